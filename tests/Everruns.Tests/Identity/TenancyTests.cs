using System.Net;
using System.Text.Json.Nodes;
using Everruns.Contracts;
using Everruns.Tests.Infrastructure;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Everruns.Tests.Identity;

[Collection(AppCollection.Name)]
public sealed class TenancyTests(AppFixture app)
{
    /// <summary>A new org (created by the deployment admin) with an admin user; a client acting as that user.</summary>
    private Task<(string OrgId, string UserId, ApiClient Client)> NewOrgAsync(string name) => NewOrgAsync(app, name);

    /// <summary>A new org with an admin user on the shared host, and a client acting as that user.</summary>
    internal static async Task<(string OrgId, string UserId, ApiClient Client)> NewOrgAsync(AppFixture app, string name)
    {
        var org = await app.Api.PostAsync("/v1/orgs", new { name });
        org.Status.ShouldBe(HttpStatusCode.Created, org.Text);
        var orgId = (string)org.Object["id"]!;
        var member = await app.Api.PostAsync($"/v1/orgs/{orgId}/members", new { name = $"{name} admin", role = "admin" });
        member.Status.ShouldBe(HttpStatusCode.Created, member.Text);
        var token = (string)member.Object["token"]!["token"]!;
        token.ShouldStartWith("evr_pat_");
        // The deployment admin created the org and is its member too: the new user's token must pick the org.
        return (orgId, (string)member.Object["user_id"]!, new ApiClient(app.Host.Server.CreateClient().As(token, orgId)));
    }

    /// <summary>
    /// Only the probes, public documents, the dashboard's static files and its sign-in (POST /v1/auth/session, which takes
    /// a token in its body) are open; every other route needs a token, whether it names a policy or
    /// (having forgotten to) falls under the fallback one, which requires an org member.
    /// </summary>
    [Fact]
    public void every_route_but_the_probes_requires_a_token_and_an_unnamed_policy_means_an_org_member()
    {
        var endpoints = app.Host.Services.GetServices<Microsoft.AspNetCore.Routing.EndpointDataSource>()
            .SelectMany(source => source.Endpoints).OfType<Microsoft.AspNetCore.Routing.RouteEndpoint>().ToList();
        endpoints.Count.ShouldBeGreaterThan(30);
        endpoints.Where(e => e.Metadata.GetMetadata<Microsoft.AspNetCore.Authorization.IAllowAnonymous>() is not null)
            .Select(e => e.RoutePattern.RawText).Distinct().Order()
            .ShouldBe(["/conformance", "/docs/favicon.svg", "/docs/scalar.aspnetcore.js", "/docs/scalar.js", "/docs/{documentName?}",
                "/health", "/health/ready", "/metrics", "/status", "/ui", "/ui/{**path}", "/v1/auth/session", "/v1/openapi.json"]);

        var options = app.Host.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<Microsoft.AspNetCore.Authorization.AuthorizationOptions>>().Value;
        options.FallbackPolicy.ShouldBeSameAs(options.GetPolicy(Everruns.Infrastructure.Policies.Member));
        options.FallbackPolicy!.Requirements.ShouldContain(r => r is Microsoft.AspNetCore.Authorization.Infrastructure.DenyAnonymousAuthorizationRequirement);
    }

    [Fact]
    public async Task an_org_admin_sets_the_orgs_name_and_defaults_and_each_is_checked()
    {
        var (orgId, _, admin) = await NewOrgAsync(Names.Unique("defaults"));
        var created = (await admin.GetAsync($"/v1/orgs/{orgId}")).Object;
        created["default_provider_per_service"]!.AsObject().Count.ShouldBe(0); // required, empty until set
        var provider = (string)(await admin.PostAsync("/v1/providers", new { name = "main", provider_type = "openai" })).Object["id"]!;

        var patched = await admin.PatchAsync($"/v1/orgs/{orgId}", new
        {
            default_model_id = "everruns-offline", default_harness_name = "generic",
            default_provider_per_service = new Dictionary<string, string> { ["chat"] = provider },
        });
        patched.Status.ShouldBe(HttpStatusCode.OK, patched.Text);
        var org = (await admin.GetAsync($"/v1/orgs/{orgId}")).Object;
        ((string)org["name"]!).ShouldBe((string)created["name"]!); // not given: unchanged
        ((string)org["default_provider_per_service"]!["chat"]!).ShouldBe(provider);
        org["default_model_id"].ShouldNotBeNull();
        ((string)org["default_harness_id"]!).ShouldBe("harness_00000000000000000000000000000001");

        // A session that names no model, with no agent, runs on the org's default.
        ((string)(await admin.CreateSessionAsync())["model_id"]!).ShouldBe((string)org["default_model_id"]!);

        (await admin.PatchAsync($"/v1/orgs/{orgId}", new { name = "renamed" })).Object["default_provider_per_service"]!["chat"]!
            .ToString().ShouldBe(provider); // a rename keeps the defaults
        (await admin.PatchAsync($"/v1/orgs/{orgId}", new { default_provider_per_service = new Dictionary<string, string> { ["chat"] = "provider_" + new string('0', 32) } }))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "provider_not_found");
        (await admin.PatchAsync($"/v1/orgs/{orgId}", new { default_provider_per_service = new Dictionary<string, string> { ["telepathy"] = provider } }))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_service_kind");
        (await admin.PatchAsync($"/v1/orgs/{orgId}", new { default_model_id = "gpt-9" })).ShouldBeProblem(HttpStatusCode.NotFound, "model_not_found");
        (await admin.PatchAsync($"/v1/orgs/{orgId}", new { default_harness_id = "harness_x", default_harness_name = "generic" }))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "harness_id_and_name");
        // Refused requests changed nothing.
        ((string)(await admin.GetAsync($"/v1/orgs/{orgId}")).Object["default_provider_per_service"]!["chat"]!).ShouldBe(provider);
    }

    /// <summary>A document type no module has: what the next capability would add.</summary>
    public sealed class ProbeNote
    {
        public string Id { get; set; } = "";
        public string Text { get; set; } = "";
    }

    /// <summary>
    /// Org isolation by construction: every document is its org's (Marten's conjoined tenancy), so a read in one org's
    /// documents cannot return another's, though it names no org, and a document type added later is isolated the same
    /// way without a line of its own.
    /// </summary>
    [Fact]
    public async Task an_orgs_documents_are_invisible_to_another_org_even_to_a_read_that_names_no_org()
    {
        var (orgId, _, client) = await NewOrgAsync("isolated by construction");
        var agent = await client.PostAsync("/v1/agents", new { name = "mine", system_prompt = "p" });
        agent.Status.ShouldBe(HttpStatusCode.Created, agent.Text);
        var agentId = (string)agent.Object["id"]!;

        var store = app.Host.Services.GetRequiredService<IDocumentStore>();
        await using (var mine = store.QuerySession(orgId))
            (await mine.LoadAsync<Everruns.Modules.Agents.Agent>(agentId)).ShouldNotBeNull();
        await using (var other = store.QuerySession(Tenancy.DefaultOrgId))
        {
            (await other.LoadAsync<Everruns.Modules.Agents.Agent>(agentId)).ShouldBeNull();
            (await other.Query<Everruns.Modules.Agents.Agent>().ToListAsync()).ShouldNotContain(a => a.Id == agentId);
        }

        (await app.Api.GetAsync($"/v1/agents/{agentId}")).ShouldBeProblem(HttpStatusCode.NotFound, "agent_not_found");

        // A new document type: its queries are filtered by the session's org though nobody configured it.
        await using var session = store.QuerySession(orgId);
        var command = session.Query<ProbeNote>().Where(n => n.Text == "x").ToCommand();
        command.CommandText.ShouldContain("tenant_id");
        command.Parameters.Select(p => p.Value).ShouldContain(orgId);
    }

    [Fact]
    public async Task without_a_valid_token_every_api_route_is_401_and_the_probes_stay_open()
    {
        var anonymous = new ApiClient(app.Host.Server.CreateClient(), token: null);
        foreach (var path in new[] { "/v1/agents", "/v1/sessions", "/v1/orgs", "/v1/providers", "/v1/auth/personal-access-tokens" })
        {
            var response = await anonymous.GetAsync(path);
            response.ShouldBeProblem(HttpStatusCode.Unauthorized, "unauthorized");
            response.Headers.WwwAuthenticate.ToString().ShouldBe("Bearer");
        }

        (await anonymous.PostAsync("/v1/agents", new { name = "x", system_prompt = "y" })).ShouldBeProblem(HttpStatusCode.Unauthorized, "unauthorized");
        (await new ApiClient(app.Host.Server.CreateClient().As("evr_pat_short")).GetAsync("/v1/agents"))
            .ShouldBeProblem(HttpStatusCode.Unauthorized, "invalid_token");
        (await new ApiClient(app.Host.Server.CreateClient().As(AccessTokenLike())).GetAsync("/v1/agents"))
            .ShouldBeProblem(HttpStatusCode.Unauthorized, "invalid_token");
        foreach (var open in new[] { "/health", "/health/ready", "/status", "/conformance" })
            (await anonymous.GetAsync(open)).Status.ShouldBe(HttpStatusCode.OK, open);

        // Both header forms: the SDK's bare token and Bearer.
        (await new ApiClient(app.Host.Server.CreateClient().As(TestAuth.AdminToken)).GetAsync("/v1/agents")).Status.ShouldBe(HttpStatusCode.OK);
        (await new ApiClient(app.Host.Server.CreateClient().As("Bearer " + TestAuth.AdminToken)).GetAsync("/v1/agents")).Status.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task another_orgs_agents_sessions_messages_events_and_providers_are_not_found_for_reads_and_writes()
    {
        var owner = app.Api;
        var agent = await owner.CreateAgentAsync();
        var agentId = (string)agent["id"]!;
        var session = (string)(await owner.CreateSessionAsync(new { agent_id = agentId }))["id"]!;
        await owner.PostMessageAsync(session, "hello");
        await owner.WaitForTurnsAsync(session);
        var provider = await owner.PostAsync("/v1/providers", new { name = Names.Unique("openai"), provider_type = "openai", api_key = "sk-tenancy-1" });
        provider.Status.ShouldBe(HttpStatusCode.Created, provider.Text);
        var providerId = (string)provider.Object["id"]!;
        var eventsBefore = (await owner.EventsAsync(session)).Count;

        var (otherOrg, _, stranger) = await NewOrgAsync(Names.Unique("rival"));

        var notFound = new (HttpMethod Method, string Path, object? Body, string Code)[]
        {
            (HttpMethod.Get, $"/v1/agents/{agentId}", null, "agent_not_found"),
            (HttpMethod.Patch, $"/v1/agents/{agentId}", new { description = "mine now" }, "agent_not_found"),
            (HttpMethod.Delete, $"/v1/agents/{agentId}", null, "agent_not_found"),
            (HttpMethod.Post, "/v1/sessions", new { agent_id = agentId }, "agent_not_found"),
            (HttpMethod.Get, $"/v1/sessions/{session}", null, "session_not_found"),
            (HttpMethod.Patch, $"/v1/sessions/{session}", new { title = "mine now" }, "session_not_found"),
            (HttpMethod.Delete, $"/v1/sessions/{session}", null, "session_not_found"),
            (HttpMethod.Post, $"/v1/sessions/{session}/cancel", null, "session_not_found"),
            (HttpMethod.Post, $"/v1/sessions/{session}/messages",
                new { message = new { role = "user", content = new[] { new { type = "text", text = "intrude" } } } }, "session_not_found"),
            (HttpMethod.Get, $"/v1/sessions/{session}/messages", null, "session_not_found"),
            (HttpMethod.Get, $"/v1/sessions/{session}/events", null, "session_not_found"),
            (HttpMethod.Get, $"/v1/sessions/{session}/sse", null, "session_not_found"),
            (HttpMethod.Get, $"/v1/providers/{providerId}", null, "provider_not_found"),
            (HttpMethod.Patch, $"/v1/providers/{providerId}", new { name = "mine" }, "provider_not_found"),
            (HttpMethod.Delete, $"/v1/providers/{providerId}", null, "provider_not_found"),
            (HttpMethod.Get, $"/v1/orgs/{Tenancy.DefaultOrgId}", null, "org_not_found"),
            (HttpMethod.Patch, $"/v1/orgs/{Tenancy.DefaultOrgId}", new { name = "mine" }, "org_not_found"),
            (HttpMethod.Get, $"/v1/orgs/{Tenancy.DefaultOrgId}/members", null, "org_not_found"),
        };
        foreach (var (method, path, body, code) in notFound)
            (await stranger.SendAsync(method, path, body)).ShouldBeProblem(HttpStatusCode.NotFound, code);

        // An id is the org's own: putting one another org uses makes the caller's own agent or provider, and touches
        // nothing of the other org's (checked below).
        (await stranger.SendAsync(HttpMethod.Put, $"/v1/agents/{agentId}", new { name = "stolen", system_prompt = "x" }))
            .Status.ShouldBe(HttpStatusCode.Created);
        (await stranger.SendAsync(HttpMethod.Put, $"/v1/providers/{providerId}", new { name = "mine", provider_type = "openai" }))
            .Status.ShouldBe(HttpStatusCode.Created);

        // Naming someone else's org in X-Org-Id is the same 404.
        var asOwnerOrg = new ApiClient(app.Host.Server.CreateClient().As((string)stranger.Http.DefaultRequestHeaders.GetValues("Authorization").Single(),
            Tenancy.DefaultOrgId));
        (await asOwnerOrg.GetAsync("/v1/agents")).ShouldBeProblem(HttpStatusCode.NotFound, "org_not_found");

        // Lists show only the caller's org.
        (await stranger.GetAsync("/v1/agents")).Object["data"]!.AsArray().Select(a => (string)a!["name"]!).ShouldBe(["stolen"]);
        (await stranger.GetAsync("/v1/sessions")).Object["data"]!.AsArray().ShouldBeEmpty();
        (await stranger.GetAsync("/v1/providers")).Object["data"]!.AsArray().Select(p => (string)p!["name"]!).ShouldBe(["mine"]);
        var orgs = (await stranger.GetAsync("/v1/orgs")).Object["data"]!.AsArray();
        orgs.Select(o => (string)o!["id"]!).ShouldBe([otherOrg]);

        // Nothing of the owner's changed.
        var after = (await owner.GetAsync($"/v1/agents/{agentId}")).Object;
        ((string)after["name"]!).ShouldBe((string)agent["name"]!);
        ((string)after["status"]!).ShouldBe("active");
        (await owner.GetAsync($"/v1/sessions/{session}")).Status.ShouldBe(HttpStatusCode.OK);
        (await owner.EventsAsync(session)).Count.ShouldBe(eventsBefore);
        (await owner.GetAsync($"/v1/providers/{providerId}")).Object["name"]!.ToString().ShouldBe((string)provider.Object["name"]!);
    }

    [Fact]
    public async Task a_token_of_a_user_in_several_orgs_must_name_the_org_with_x_org_id()
    {
        var (orgId, userId, client) = await NewOrgAsync(Names.Unique("multi"));
        var theirs = await client.CreateAgentAsync();
        // The deployment admin adds that user to the default org as a member.
        (await app.Api.PostAsync($"/v1/orgs/{Tenancy.DefaultOrgId}/members", new { user_id = userId, role = "member" }))
            .Status.ShouldBe(HttpStatusCode.OK);
        var token = client.Http.DefaultRequestHeaders.GetValues("Authorization").Single();

        var unnamed = new ApiClient(app.Host.Server.CreateClient().As(token));
        (await unnamed.GetAsync("/v1/agents")).ShouldBeProblem(HttpStatusCode.BadRequest, "org_required");
        (await unnamed.GetAsync("/v1/orgs")).Object["data"]!.AsArray().Count.ShouldBe(2);

        var inDefault = new ApiClient(app.Host.Server.CreateClient().As(token, Tenancy.DefaultOrgId));
        var defaultAgents = await inDefault.GetAsync("/v1/agents");
        defaultAgents.Status.ShouldBe(HttpStatusCode.OK);
        defaultAgents.Object["data"]!.AsArray().ShouldNotContain(a => (string)a!["id"]! == (string)theirs["id"]!);
        // A member (not admin) of the default org may not manage it.
        (await inDefault.PostAsync($"/v1/orgs/{Tenancy.DefaultOrgId}/members", new { name = "x" })).ShouldBeProblem(HttpStatusCode.Forbidden, "forbidden");
        (await inDefault.PostAsync("/v1/providers", new { name = "p", provider_type = "openai" })).ShouldBeProblem(HttpStatusCode.Forbidden, "forbidden");
        (await inDefault.PostAsync("/v1/orgs", new { name = "mine" })).ShouldBeProblem(HttpStatusCode.Forbidden, "forbidden");
        // Deployment-wide views holding data are for deployment admins; the workers and metrics, which hold none, are not.
        (await inDefault.GetAsync("/v1/durable/workers")).Status.ShouldBe(HttpStatusCode.OK);
        (await inDefault.GetAsync("/v1/durable/metrics/timeseries")).Status.ShouldBe(HttpStatusCode.OK);
        (await inDefault.GetAsync("/v1/durable/dlq")).ShouldBeProblem(HttpStatusCode.Forbidden, "forbidden");
        (await inDefault.GetAsync("/v1/admin/audit-log")).ShouldBeProblem(HttpStatusCode.Forbidden, "forbidden");
        (await inDefault.GetAsync("/v1/audit-log")).ShouldBeProblem(HttpStatusCode.Forbidden, "forbidden");
        (await app.Api.GetAsync("/v1/admin/audit-log")).Status.ShouldBe(HttpStatusCode.OK);

        var inTheirs = new ApiClient(app.Host.Server.CreateClient().As(token, orgId));
        (await inTheirs.GetAsync($"/v1/agents/{theirs["id"]}")).Status.ShouldBe(HttpStatusCode.OK);

        // Removed from the default org: the header now names an org it cannot reach.
        (await app.Api.DeleteAsync($"/v1/orgs/{Tenancy.DefaultOrgId}/members/{userId}")).Status.ShouldBe(HttpStatusCode.NoContent);
        (await inDefault.GetAsync("/v1/agents")).ShouldBeProblem(HttpStatusCode.NotFound, "org_not_found");
        (await unnamed.GetAsync("/v1/agents")).Status.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task tokens_are_created_listed_and_revoked_and_the_audit_log_records_it_append_only()
    {
        var created = await app.Api.PostAsync("/v1/auth/personal-access-tokens", new { name = "ci", expires_in_days = 30 });
        created.Status.ShouldBe(HttpStatusCode.Created, created.Text);
        var token = (string)created.Object["token"]!;
        var tokenId = (string)created.Object["id"]!;
        token.Length.ShouldBe(72);
        ((string)created.Object["token_prefix"]!).ShouldBe(token[..16] + "...");
        created.Object["expires_at"].ShouldNotBeNull();

        var list = await app.Api.GetAsync("/v1/auth/personal-access-tokens");
        var listed = list.Object["data"]!.AsArray().Single(t => (string)t!["id"]! == tokenId)!;
        listed["token"].ShouldBeNull();
        list.Text.ShouldNotContain(token);

        var client = new ApiClient(app.Host.Server.CreateClient().As(token));
        (await client.GetAsync("/v1/agents")).Status.ShouldBe(HttpStatusCode.OK);
        (await app.Api.PostAsync("/v1/auth/personal-access-tokens", new { name = "x", scopes = new[] { "agents:read" } }))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "unsupported_pat_scopes");
        (await app.Api.PostAsync("/v1/auth/personal-access-tokens", new { name = "x", expires_in_days = 0 }))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_expires_in_days");
        (await app.Api.PostAsync("/v1/auth/personal-access-tokens", new { })).ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_name");

        (await app.Api.DeleteAsync($"/v1/auth/personal-access-tokens/{tokenId}")).Status.ShouldBe(HttpStatusCode.NoContent);
        (await client.GetAsync("/v1/agents")).ShouldBeProblem(HttpStatusCode.Unauthorized, "invalid_token");
        (await app.Api.DeleteAsync($"/v1/auth/personal-access-tokens/{tokenId}")).ShouldBeProblem(HttpStatusCode.NotFound, "token_not_found");

        var agent = await app.Api.CreateAgentAsync();
        (await app.Api.DeleteAsync($"/v1/agents/{agent["id"]}")).Status.ShouldBe(HttpStatusCode.NoContent);

        var entries = await Eventually.Value(async () =>
        {
            var log = (await app.Api.GetAsync("/v1/audit-log?limit=100")).Object["data"]!.AsArray();
            return log.Any(e => (string)e!["action"]! == "agent.deleted" && (string)e["target"]! == (string)agent["id"]!) ? log : null;
        }, TimeSpan.FromSeconds(10));
        entries.ShouldContain(e => (string)e!["action"]! == "token.created" && (string)e["target"]! == tokenId);
        entries.ShouldContain(e => (string)e!["action"]! == "token.revoked" && (string)e["target"]! == tokenId);
        entries.ToJsonString().ShouldNotContain(token);

        // Append-only, in the database itself.
        await using var connection = new NpgsqlConnection(PostgresServer.ConnectionStringFor(app.DatabaseUrl));
        await connection.OpenAsync();
        foreach (var sql in new[] { "update everruns.audit_log set actor = 'nobody'", "delete from everruns.audit_log", "truncate everruns.audit_log" })
        {
            await using var command = new NpgsqlCommand(sql, connection);
            (await Should.ThrowAsync<PostgresException>(() => command.ExecuteNonQueryAsync())).MessageText.ShouldContain("append-only");
        }
    }

    [Fact]
    public async Task provider_keys_are_stored_sealed_and_never_returned()
    {
        const string key = "sk-sealed-Qx7-secret-value";
        var created = await app.Api.PostAsync("/v1/providers", new { name = Names.Unique("openai"), provider_type = "openai", api_key = key });
        created.Status.ShouldBe(HttpStatusCode.Created, created.Text);
        created.Text.ShouldNotContain(key);
        ((bool)created.Object["api_key_set"]!).ShouldBeTrue();
        var id = (string)created.Object["id"]!;
        (await app.Api.GetAsync($"/v1/providers/{id}")).Text.ShouldNotContain(key);
        (await app.Api.GetAsync("/v1/providers")).Text.ShouldNotContain(key);

        await using var connection = new NpgsqlConnection(PostgresServer.ConnectionStringFor(app.DatabaseUrl));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("select data::text from everruns.mt_doc_provider where id = @id", connection);
        command.Parameters.AddWithValue("id", id);
        var stored = (string)(await command.ExecuteScalarAsync())!;
        stored.ShouldNotContain(key);
        stored.ShouldContain("v1.");

        var box = TestAuth.SecretBox();
        var sealedKey = (string)JsonNode.Parse(stored)!["api_key_sealed"]!;
        box.Open(sealedKey, $"{Tenancy.DefaultOrgId}/{id}/api_key").ShouldBe(key);
        // Bound to its row: the same value does not open as another provider's.
        Should.Throw<System.Security.Cryptography.CryptographicException>(() => box.Open(sealedKey, $"{Tenancy.DefaultOrgId}/provider_x/api_key"));

        var cleared = await app.Api.PatchAsync($"/v1/providers/{id}", new { api_key = "" });
        ((bool)cleared.Object["api_key_set"]!).ShouldBeFalse();
        (await app.Api.PostAsync("/v1/providers", new { name = "bad", provider_type = "Open AI" })).ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_provider_type");
        (await app.Api.DeleteAsync($"/v1/providers/{id}")).Status.ShouldBe(HttpStatusCode.NoContent);
        (await app.Api.GetAsync($"/v1/providers/{id}")).ShouldBeProblem(HttpStatusCode.NotFound, "provider_not_found");
    }

    private static string AccessTokenLike() => "evr_pat_" + new string('0', 64);
}
