using System.Net;
using Everruns.Tests.Infrastructure;

namespace Everruns.Tests.Identity;

/// <summary>Token lookups under load: a host process of its own, so that its metrics count only this test's requests.</summary>
public sealed class TokenLookupTests
{
    [Fact]
    public async Task requests_that_miss_a_token_together_share_one_lookup_of_the_database()
    {
        await using var database = await TestDatabase.CreateAsync("everruns_token_lookup");
        await using var host = HostProcess.Start(database.Url);
        await host.WaitUntilReadyAsync();
        var created = await new ApiClient(host.Http).PostAsync("/v1/auth/personal-access-tokens", new { name = "busy" });
        created.Status.ShouldBe(HttpStatusCode.Created, created.Text);
        var api = new ApiClient(new HttpClient { BaseAddress = host.BaseAddress }.As((string)created.Object["token"]!));
        const string Lookups = "everruns_token_lookups_total";
        var before = await api.CounterAsync(Lookups);

        // As when the token's cache entry expires with requests in flight: all of them miss it at once.
        var responses = await Task.WhenAll(Enumerable.Range(0, 64).Select(_ => api.GetAsync("/v1/agents")));

        responses.ShouldAllBe(r => r.Status == HttpStatusCode.OK);
        (await api.CounterAsync(Lookups) - before).ShouldBe(1);
        (await PostgresServer.ScalarAsync<bool>(database.Url,
            $"select data->>'last_used_at' is not null from everruns.mt_doc_accesstoken where id = '{created.Object["id"]}'")).ShouldBeTrue();
    }
}
