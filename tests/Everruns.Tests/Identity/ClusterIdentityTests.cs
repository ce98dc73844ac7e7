using System.Diagnostics;
using System.Net;
using System.Text.RegularExpressions;
using Everruns.Contracts;
using Everruns.Tests.Infrastructure;

namespace Everruns.Tests.Identity;

/// <summary>Identity across instances: real host processes (and in-process hosts) on one database.</summary>
public sealed partial class ClusterIdentityTests
{
    [GeneratedRegex("evr_pat_[0-9a-f]{64}")]
    private static partial Regex Token();

    [Fact]
    public async Task a_token_revoked_on_one_host_is_refused_by_another_host_process_within_two_seconds()
    {
        await using var database = await TestDatabase.CreateAsync("everruns_revoke");
        // A long cache TTL: only the broadcast can make the second host forget the token in time.
        var settings = new Dictionary<string, string> { ["TOKEN_CACHE_TTL_SECS"] = "600" };
        await using var a = HostProcess.Start(database.Url, new Dictionary<string, string>(settings) { ["INSTANCE_ID"] = "id-a" });
        await a.WaitUntilReadyAsync();
        await using var b = HostProcess.Start(database.Url, new Dictionary<string, string>(settings) { ["INSTANCE_ID"] = "id-b" });
        await b.WaitUntilReadyAsync();

        var created = await new ApiClient(a.Http).PostAsync("/v1/auth/personal-access-tokens", new { name = "short-lived" });
        created.Status.ShouldBe(HttpStatusCode.Created, created.Text);
        var token = (string)created.Object["token"]!;
        var onB = new ApiClient(new HttpClient { BaseAddress = b.BaseAddress }.As(token));
        (await onB.GetAsync("/v1/agents")).Status.ShouldBe(HttpStatusCode.OK); // B has it cached now

        var revoked = Stopwatch.StartNew();
        (await new ApiClient(a.Http).DeleteAsync($"/v1/auth/personal-access-tokens/{created.Object["id"]}")).Status.ShouldBe(HttpStatusCode.NoContent);
        await Eventually.Until(async () => (await onB.GetAsync("/v1/agents")).Status == HttpStatusCode.Unauthorized, TimeSpan.FromSeconds(5));
        revoked.Elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(2));
        b.Output.ShouldNotContain(token);
        a.Output.ShouldNotContain(token);
    }

    [Fact]
    public async Task concurrent_first_starts_bootstrap_one_org_and_print_one_admin_token_once()
    {
        await using var database = await TestDatabase.CreateAsync("everruns_bootstrap");
        // No BOOTSTRAP_ADMIN_TOKEN: the server makes one up and prints it.
        var hosts = Enumerable.Range(1, 3)
            .Select(i => HostProcess.Start(database.Url, new Dictionary<string, string> { ["BOOTSTRAP_ADMIN_TOKEN"] = "", ["INSTANCE_ID"] = $"boot-{i}" }))
            .ToList();
        try
        {
            await Task.WhenAll(hosts.Select(h => h.WaitUntilReadyAsync()));
            var printed = hosts.SelectMany(h => Token().Matches(h.Output).Select(m => m.Value)).ToList();
            printed.Count.ShouldBe(1, string.Join("\n----\n", hosts.Select(h => h.Output)));
            (await PostgresServer.ScalarAsync<long>(database.Url, "select count(*) from everruns.mt_doc_user")).ShouldBe(1);
            (await PostgresServer.ScalarAsync<long>(database.Url, "select count(*) from everruns.mt_doc_org")).ShouldBe(1);
            (await PostgresServer.ScalarAsync<long>(database.Url, "select count(*) from everruns.mt_doc_accesstoken")).ShouldBe(1);
            (await PostgresServer.ScalarAsync<long>(database.Url,
                $"select count(*) from everruns.mt_doc_accesstoken where data::text like '%{printed[0][8..20]}%'")).ShouldBe(0); // never stored in clear

            foreach (var host in hosts)
            {
                var api = new ApiClient(new HttpClient { BaseAddress = host.BaseAddress }.As(printed[0]));
                var orgs = await api.GetAsync("/v1/orgs");
                orgs.Status.ShouldBe(HttpStatusCode.OK, orgs.Text);
                ((string)orgs.Object["data"]![0]!["id"]!).ShouldBe(Tenancy.DefaultOrgId);
            }

            // A restart does not bootstrap again.
            await hosts[0].DisposeAsync();
            hosts.RemoveAt(0);
            await using var again = HostProcess.Start(database.Url, new Dictionary<string, string> { ["BOOTSTRAP_ADMIN_TOKEN"] = "" });
            await again.WaitUntilReadyAsync();
            Token().IsMatch(again.Output).ShouldBeFalse();
        }
        finally
        {
            foreach (var host in hosts) await host.DisposeAsync();
        }
    }

    [Fact]
    public async Task the_cli_creates_and_revokes_tokens_and_a_secret_rotation_keeps_old_tokens_valid_until_rehashed()
    {
        await using var database = await TestDatabase.CreateAsync("everruns_rotate");
        const string newSecret = "rotated-api-key-secret-0000000000000000000000000000000000";
        await using (var first = await TestHost.StartAsync(database.Url))
            (await new ApiClient(first.Server.CreateClient()).GetAsync("/v1/agents")).Status.ShouldBe(HttpStatusCode.OK);

        // Two tokens from the CLI, hashed under the first secret.
        var (code, output) = await HostProcess.RunVerbAsync(database.Url, "tokens", "create", "--name", "used", "--role", "admin");
        code.ShouldBe(0, output);
        var used = Token().Match(output).Value;
        (code, output) = await HostProcess.RunVerbAsync(database.Url, "tokens", "create", "--name", "idle");
        code.ShouldBe(0, output);
        var idle = Token().Match(output).Value;
        var idleId = Regex.Match(output, @"token id: (\S+)").Groups[1].Value;

        // The new secret alone does not know them.
        var rotated = new Dictionary<string, string> { ["API_KEY_SECRET"] = newSecret };
        await using (var newOnly = await TestHost.StartAsync(database.Url, settings: rotated))
            (await new ApiClient(newOnly.Server.CreateClient().As(used)).GetAsync("/v1/agents")).ShouldBeProblem(HttpStatusCode.Unauthorized, "invalid_token");

        // The window: the previous secret still admits them, and a use re-hashes the token under the new one.
        var window = new Dictionary<string, string>(rotated) { ["API_KEY_SECRET_PREVIOUS"] = TestAuth.Secret };
        await using (var inWindow = await TestHost.StartAsync(database.Url, settings: window))
            (await new ApiClient(inWindow.Server.CreateClient().As(used)).GetAsync("/v1/agents")).Status.ShouldBe(HttpStatusCode.OK);
        (code, output) = await HostProcess.RunVerbAsync(database.Url, window, "rehash-api-keys");
        code.ShouldBe(0, output);
        // used + the test admin's token re-hashed on their use; idle not yet.
        output.ShouldContain("under API_KEY_SECRET: 1; under API_KEY_SECRET_PREVIOUS: 2");

        (code, output) = await HostProcess.RunVerbAsync(database.Url, window, "rehash-api-keys", "--revoke-remaining");
        code.ShouldBe(0, output);
        output.ShouldContain("revoked 2 token(s)");

        await using (var after = await TestHost.StartAsync(database.Url, settings: rotated))
        {
            (await new ApiClient(after.Server.CreateClient().As(used)).GetAsync("/v1/agents")).Status.ShouldBe(HttpStatusCode.OK);
            (await new ApiClient(after.Server.CreateClient().As(idle)).GetAsync("/v1/agents")).ShouldBeProblem(HttpStatusCode.Unauthorized, "invalid_token");
        }

        (code, output) = await HostProcess.RunVerbAsync(database.Url, rotated, "tokens", "revoke", idleId);
        code.ShouldNotBe(0); // already revoked
        (await PostgresServer.ScalarAsync<long>(database.Url,
            "select count(*) from everruns.audit_log where action in ('token.created', 'secrets.api_key_rotated') and actor = 'cli'")).ShouldBe(3);
    }

    [Fact]
    public async Task provider_keys_survive_an_encryption_key_rotation_with_reencrypt_secrets()
    {
        await using var database = await TestDatabase.CreateAsync("everruns_reencrypt");
        string id;
        await using (var host = await TestHost.StartAsync(database.Url))
        {
            var created = await new ApiClient(host.Server.CreateClient()).PostAsync("/v1/providers",
                new { name = "openai", provider_type = "openai", api_key = "sk-rotate-me" });
            created.Status.ShouldBe(HttpStatusCode.Created, created.Text);
            id = (string)created.Object["id"]!;
        }

        const string newKey = "1111111111111111111111111111111111111111111111111111111111111111";
        var rotation = new Dictionary<string, string> { ["SECRETS_ENCRYPTION_KEY"] = newKey, ["SECRETS_ENCRYPTION_KEY_PREVIOUS"] = TestAuth.EncryptionKey };
        var (code, output) = await HostProcess.RunVerbAsync(database.Url, rotation, "reencrypt-secrets");
        code.ShouldBe(0, output);
        output.ShouldContain("re-encrypted 1 of 1");

        var stored = await PostgresServer.ScalarAsync<string>(database.Url,
            $"select data ->> 'api_key_sealed' from everruns.mt_doc_provider where id = '{id}'");
        var box = TestAuth.SecretBox(newKey);
        box.Open(stored, $"{Tenancy.DefaultOrgId}/{id}/api_key").ShouldBe("sk-rotate-me");
        (await PostgresServer.ScalarAsync<long>(database.Url, "select count(*) from everruns.audit_log where action = 'secrets.reencrypted'")).ShouldBe(1);
    }

    [Fact]
    public async Task the_rate_limit_is_shared_by_two_hosts_and_answers_429_with_retry_after()
    {
        await using var database = await TestDatabase.CreateAsync("everruns_ratelimit");
        var limited = new Dictionary<string, string> { ["RATE_LIMIT_REQUESTS"] = "5", ["RATE_LIMIT_WINDOW_SECS"] = "120" };
        await using var one = await TestHost.StartAsync(database.Url, settings: limited);
        await using var two = await TestHost.StartAsync(database.Url, settings: limited);
        var clients = new[] { new ApiClient(one.Server.CreateClient()), new ApiClient(two.Server.CreateClient()) };

        for (var i = 0; i < 5; i++)
            (await clients[i % 2].GetAsync("/v1/agents")).Status.ShouldBe(HttpStatusCode.OK, $"request {i + 1}");
        foreach (var client in clients)
        {
            var refused = await client.GetAsync("/v1/agents");
            refused.ShouldBeProblem(HttpStatusCode.TooManyRequests, "rate_limited");
            refused.Headers.RetryAfter!.Delta!.Value.TotalSeconds.ShouldBeInRange(1, 120);
        }

        // Per route: another route of the same org still has its own budget.
        (await clients[0].GetAsync("/v1/sessions")).Status.ShouldBe(HttpStatusCode.OK);
        // The probes are never limited.
        (await one.Server.CreateClient().GetAsync("/health")).StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task instances_lease_requests_in_batches_yet_never_allow_more_than_the_limit()
    {
        await using var database = await TestDatabase.CreateAsync("everruns_lease");
        // 40 a window, 2 instances: leases of 2 requests, so 20 claims at most, and not one request beyond 40.
        var settings = new Dictionary<string, string> { ["RATE_LIMIT_REQUESTS"] = "40", ["EXPECTED_INSTANCES"] = "2" };
        await using var one = await TestHost.StartAsync(database.Url, settings: settings);
        await using var two = await TestHost.StartAsync(database.Url, settings: settings);
        var clients = new[] { new ApiClient(one.Server.CreateClient()), new ApiClient(two.Server.CreateClient()) };
        var allowed = 0;
        for (var i = 0; i < 60; i++)
            if ((await clients[i % 2].GetAsync("/v1/agents")).Status == HttpStatusCode.OK) allowed++;
        allowed.ShouldBe(40);
        var counted = await PostgresServer.ScalarAsync<long>(database.Url, "select count from everruns.rate_limits where key like '%GET /v1/agents'");
        counted.ShouldBeGreaterThanOrEqualTo(40);

        // A burst well under the limit is never refused: concurrent requests wait for one claim instead of each
        // claiming (and wasting) a lease of their own.
        var burst = await Task.WhenAll(Enumerable.Range(0, 36).Select(i => clients[i % 2].GetAsync("/v1/sessions")));
        burst.ShouldAllBe(r => r.Status == HttpStatusCode.OK);
    }

    [Fact]
    public async Task with_the_memory_store_each_host_counts_alone_and_bodies_over_the_limit_get_413()
    {
        await using var database = await TestDatabase.CreateAsync("everruns_memlimit");
        // Windows are fixed (aligned on the clock): a day-long one keeps the three requests in one window.
        var settings = new Dictionary<string, string>
        {
            ["RATE_LIMIT_REQUESTS"] = "2", ["RATE_LIMIT_WINDOW_SECS"] = "86400", ["RATE_LIMIT_STORE"] = "memory",
            ["MAX_REQUEST_BODY_BYTES"] = "2048",
        };
        await using var one = await TestHost.StartAsync(database.Url, settings: settings);
        await using var two = await TestHost.StartAsync(database.Url, settings: settings);
        foreach (var host in new[] { one, two })
        {
            var api = new ApiClient(host.Server.CreateClient());
            (await api.GetAsync("/v1/sessions")).Status.ShouldBe(HttpStatusCode.OK);
            (await api.GetAsync("/v1/sessions")).Status.ShouldBe(HttpStatusCode.OK);
            var refused = await api.GetAsync("/v1/sessions");
            refused.ShouldBeProblem(HttpStatusCode.TooManyRequests, "rate_limited");
            var retryAfter = int.Parse(refused.Headers.RetryAfter!.ToString(), System.Globalization.CultureInfo.InvariantCulture);
            retryAfter.ShouldBeInRange(1, 86400);
            refused.Object["retry_after_seconds"]!.GetValue<int>().ShouldBe(retryAfter);
        }

        var name = Names.Unique("big");
        var big = await new ApiClient(one.Server.CreateClient()).PostAsync("/v1/agents", new { name, system_prompt = new string('x', 4096) });
        big.ShouldBeProblem(HttpStatusCode.RequestEntityTooLarge, "payload_too_large");
        (await PostgresServer.ScalarAsync<long>(database.Url, $"select count(*) from everruns.mt_doc_agent where data ->> 'name' = '{name}'")).ShouldBe(0);
    }

    [Fact]
    public async Task logs_never_contain_tokens_or_secrets()
    {
        await using var database = await TestDatabase.CreateAsync("everruns_nolog");
        var logs = new LogCapture();
        await using var host = await TestHost.StartAsync(database.Url, logs, new Dictionary<string, string> { ["LOG_LEVEL"] = "Debug" });
        var api = new ApiClient(host.Server.CreateClient());
        var created = await api.PostAsync("/v1/auth/personal-access-tokens", new { name = "logged?" });
        var token = (string)created.Object["token"]!;
        const string providerKey = "sk-never-logged-9c1";
        (await api.PostAsync("/v1/providers", new { name = "p", provider_type = "openai", api_key = providerKey })).Status.ShouldBe(HttpStatusCode.Created);
        var bogus = "evr_pat_" + new string('e', 64);
        (await new ApiClient(host.Server.CreateClient().As(bogus)).GetAsync("/v1/agents")).Status.ShouldBe(HttpStatusCode.Unauthorized);
        (await new ApiClient(host.Server.CreateClient().As("Bearer not-a-token-Zz9")).GetAsync("/v1/agents")).Status.ShouldBe(HttpStatusCode.Unauthorized);
        (await new ApiClient(host.Server.CreateClient().As(token)).GetAsync("/v1/agents")).Status.ShouldBe(HttpStatusCode.OK);
        (await api.DeleteAsync($"/v1/auth/personal-access-tokens/{created.Object["id"]}")).Status.ShouldBe(HttpStatusCode.NoContent);
        (await new ApiClient(host.Server.CreateClient().As(token)).GetAsync("/v1/agents")).Status.ShouldBe(HttpStatusCode.Unauthorized);

        logs.Entries.Count.ShouldBeGreaterThan(10);
        var everything = string.Join("\n", logs.Entries.Select(e => e.Message));
        foreach (var secret in new[] { token, providerKey, bogus, "not-a-token-Zz9", TestAuth.AdminToken, TestAuth.Secret, TestAuth.EncryptionKey })
            everything.ShouldNotContain(secret);
    }
}
