using Everruns.Contracts;
using System.Net;
using Everruns.Tests.Infrastructure;

namespace Everruns.Tests.Operations;

public sealed class PreflightTests
{
    [Fact]
    public async Task preflight_fails_clearly_on_an_unreachable_or_unmigrated_database_and_passes_once_migrated()
    {
        var unreachable = await HostProcess.RunVerbAsync("postgres://postgres@127.0.0.1:1/nowhere", "preflight");
        unreachable.ExitCode.ShouldBe(1, unreachable.Output);
        unreachable.Output.ShouldContain("FAIL  database reachable");
        unreachable.Output.ShouldContain("preflight failed");

        await using var database = await TestDatabase.CreateAsync("everruns_preflight");
        var url = database.Url;
        var empty = await HostProcess.RunVerbAsync(url, "preflight");
        empty.ExitCode.ShouldBe(1, empty.Output);
        empty.Output.ShouldContain("ok    database reachable");
        empty.Output.ShouldContain("FAIL  migrations current: the schema has not been applied");

        (await HostProcess.RunVerbAsync(url, "migrate")).ExitCode.ShouldBe(0);
        var ready = await HostProcess.RunVerbAsync(url, "preflight");
        ready.ExitCode.ShouldBe(0, ready.Output);
        foreach (var check in new[] { "database reachable", "migrations current", "LISTEN/NOTIFY", "session advisory locks", "pool sizing" })
            ready.Output.ShouldContain("ok    " + check);

        var oversized = await HostProcess.RunVerbAsync(url, new Dictionary<string, string>
        {
            ["DATABASE_POOL_MAX"] = "100", ["EXPECTED_INSTANCES"] = "5", ["OPENAI_BASE_URL"] = "http://127.0.0.1:9/v1",
        }, "preflight");
        oversized.ExitCode.ShouldBe(1);
        oversized.Output.ShouldContain("FAIL  pool sizing");
        oversized.Output.ShouldContain("FAIL  secrets: OPENAI_BASE_URL is set but OPENAI_API_KEY is not");
    }
}

public sealed class AdminEndpointTests
{
    /// <summary>A step claimed by this instance but neither queued nor running here, as a lost hand-off leaves it.</summary>
    [Fact]
    public async Task system_health_shows_how_long_the_oldest_waiting_inbox_message_has_been_claimed()
    {
        await using var database = await TestDatabase.CreateAsync("everruns_claimage");
        var url = database.Url;
        // Long enough that the instance's durability pass leaves the row alone while the test reads it.
        await using var host = await TestHost.StartAsync(url, settings: new Dictionary<string, string> { ["INBOX_STALE_SECS"] = "3600" });
        var api = new ApiClient(host.Server.CreateClient());
        (await AgeAsync(api)).ShouldBe(0);

        var node = await Eventually.Value(async () =>
            await PostgresServer.ScalarAsync<object>(url, "select max(node_number) from wolverine.wolverine_nodes") is int n ? n.ToString() : null,
            TimeSpan.FromSeconds(30));
        await PostgresServer.ExecuteAsync(url, $"""
            insert into wolverine.wolverine_incoming_envelopes (id, status, owner_id, body, message_type, received_at, "timestamp")
            values (gen_random_uuid(), 'Incoming', {node}, '\x00'::bytea, 'Everruns.Modules.Execution.RunTurnStep', 'local://stranded/',
                    now() - interval '10 minutes')
            """);

        (await AgeAsync(api)).ShouldBeInRange(600, 700);
    }

    private static async Task<long> AgeAsync(ApiClient api)
    {
        var health = await api.GetAsync("/v1/admin/system-health");
        health.Status.ShouldBe(HttpStatusCode.OK, health.Text);
        return health.Object["durable"]!["incoming_oldest_claim_age_secs"]!.GetValue<long>();
    }

    [Fact]
    public async Task status_is_public_and_the_admin_endpoints_need_a_deployment_admin_and_redact_secrets()
    {
        await using var database = await TestDatabase.CreateAsync("everruns_admin");
        var url = database.Url;
        await using var host = await TestHost.StartAsync(url, settings: new Dictionary<string, string>
        {
            ["OPENAI_API_KEY"] = "sk-Zq81-secret",
            ["DATABASE_URL"] = new UriBuilder(url) { UserName = "postgres", Password = "pw-Zq81-secret" }.Uri.ToString(),
        });
        var anonymous = new ApiClient(host.Server.CreateClient(), token: null);

        var conformance = await anonymous.GetAsync("/conformance");
        ((string)conformance.Object["api_version"]!).ShouldBe("v1");
        conformance.Object["version"].ShouldNotBeNull();
        var status = await anonymous.GetAsync("/status");
        status.Status.ShouldBe(HttpStatusCode.OK);
        ((string)status.Object["database"]!["status"]!).ShouldBe("ok");

        (await anonymous.GetAsync("/v1/admin/system-health")).ShouldBeProblem(HttpStatusCode.Unauthorized, "unauthorized");
        var wrong = new ApiClient(host.Server.CreateClient().As("Bearer wrong"));
        (await wrong.GetAsync("/v1/admin/support-bundle")).ShouldBeProblem(HttpStatusCode.Unauthorized, "invalid_token");

        // An org admin is not a deployment admin.
        var api = new ApiClient(host.Server.CreateClient());
        var member = await api.PostAsync($"/v1/orgs/{Tenancy.DefaultOrgId}/members", new { name = "ops-person", role = "admin" });
        member.Status.ShouldBe(HttpStatusCode.Created, member.Text);
        var orgAdmin = new ApiClient(host.Server.CreateClient().As((string)member.Object["token"]!["token"]!));
        (await orgAdmin.GetAsync("/v1/admin/system-health")).ShouldBeProblem(HttpStatusCode.Forbidden, "forbidden");

        var health = await api.GetAsync("/v1/admin/system-health");
        health.Status.ShouldBe(HttpStatusCode.OK, health.Text);
        ((bool)health.Object["database"]!["ok"]!).ShouldBeTrue();
        health.Object["database"]!["latency_ms"]!.GetValue<double>().ShouldBeGreaterThanOrEqualTo(0);
        health.Object["pool"]!["max"]!.GetValue<int>().ShouldBe(20);
        health.Object["memory"]!["working_set_bytes"]!.GetValue<long>().ShouldBeGreaterThan(0);
        health.Object["durable"].ShouldNotBeNull();
        health.Object["nodes"].ShouldNotBeNull();

        var bundle = await api.GetAsync("/v1/admin/support-bundle");
        bundle.Status.ShouldBe(HttpStatusCode.OK, bundle.Text);
        bundle.Text.ShouldNotContain("Zq81");
        bundle.Text.ShouldNotContain(TestAuth.Secret);
        bundle.Text.ShouldNotContain(TestAuth.EncryptionKey);
        bundle.Text.ShouldNotContain(TestAuth.AdminToken);
        var config = bundle.Object["config"]!;
        ((string)config["OPENAI_API_KEY"]!).ShouldBe("***");
        ((string)config["API_KEY_SECRET"]!).ShouldBe("***");
        ((string)config["SECRETS_ENCRYPTION_KEY"]!).ShouldBe("***");
        ((string)config["BOOTSTRAP_ADMIN_TOKEN"]!).ShouldBe("***");
        ((string)config["DATABASE_URL"]!).ShouldContain("postgres:***@127.0.0.1");
        bundle.Object["database"]!["migrations_applied"]!.GetValue<long>().ShouldBe(1);
        foreach (var section in new[] { "version", "health", "database" }) bundle.Object[section].ShouldNotBeNull(section);
    }
}
