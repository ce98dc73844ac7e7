using System.Net;
using Alba;
using Everruns.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Everruns.Tests.Foundation;

[Collection(AppCollection.Name)]
public sealed class HealthTests(AppFixture app)
{
    [Fact]
    public async Task liveness_answers_ok()
    {
        var result = await app.Host.Scenario(s =>
        {
            s.Get.Url("/health");
            s.StatusCodeShouldBeOk();
        });
        (await result.ReadAsJsonAsync<Dictionary<string, string>>())!["status"].ShouldBe("ok");
    }

    [Fact]
    public async Task readiness_is_200_once_migrations_are_done_and_the_database_answers()
    {
        var result = await app.Host.Scenario(s =>
        {
            s.Get.Url("/health/ready");
            s.StatusCodeShouldBeOk();
        });
        (await result.ReadAsJsonAsync<Dictionary<string, string>>())!["status"].ShouldBe("ready");
    }

    [Fact]
    public async Task every_connection_carries_the_instance_application_name()
    {
        var names = await PostgresServer.ScalarAsync<string[]>(app.DatabaseUrl,
            "select array_agg(distinct application_name) from pg_stat_activity where datname = current_database() and application_name like 'everruns-%'");
        names.ShouldNotBeEmpty();
        names.ShouldAllBe(n => n.StartsWith("everruns-test-"));
    }
}

/// <summary>Readiness follows the database and shutdown; liveness never does.</summary>
public sealed class ReadinessTests
{
    [Fact]
    public async Task readiness_turns_503_while_the_database_refuses_connections_and_recovers_after()
    {
        await using var database = await TestDatabase.CreateAsync("everruns_ready");
        await using (var host = await TestHost.StartAsync(database.Url))
        {
            (await host.Server.CreateClient().GetAsync("/health/ready")).StatusCode.ShouldBe(HttpStatusCode.OK);

            await using (await database.RefuseConnectionsAsync())
            {
                var client = host.Server.CreateClient();
                var ready = await client.GetAsync("/health/ready");
                ready.StatusCode.ShouldBe(HttpStatusCode.ServiceUnavailable);
                var body = await ready.Content.ReadAsStringAsync();
                body.ShouldContain("\"reason\":\"database_unreachable\"");
                (await client.GetAsync("/health")).StatusCode.ShouldBe(HttpStatusCode.OK);
            }

            (await host.Server.CreateClient().GetAsync("/health/ready")).StatusCode.ShouldBe(HttpStatusCode.OK);
        }
    }

    [Fact]
    public async Task readiness_turns_503_as_soon_as_shutdown_begins()
    {
        await using var database = await TestDatabase.CreateAsync("everruns_stop");
        var url = database.Url;
        await using var host = await TestHost.StartAsync(url);
        var client = host.Server.CreateClient();
        (await client.GetAsync("/health/ready")).StatusCode.ShouldBe(HttpStatusCode.OK);

        host.Services.GetRequiredService<IHostApplicationLifetime>().StopApplication();

        var ready = await client.GetAsync("/health/ready");
        ready.StatusCode.ShouldBe(HttpStatusCode.ServiceUnavailable);
        (await ready.Content.ReadAsStringAsync()).ShouldContain("\"reason\":\"shutting_down\"");
    }
}
