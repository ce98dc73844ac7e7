using System.Net;
using System.Text.Json.Nodes;
using Everruns.Tests.Infrastructure;

namespace Everruns.Tests.Api;

/// <summary>
/// Every field of the public API's agent, session and message requests is honoured, or refused by name when set to
/// something this server cannot honour; the defaults the SDKs send keep working. Nothing is written by a refusal.
/// </summary>
[Collection(AppCollection.Name)]
public sealed class RequestFieldsTests(AppFixture app)
{
    private readonly ApiClient _api = app.Api;

    private static void ShouldBeUnsupported(ApiResponse response, string field)
    {
        response.ShouldBeProblem(HttpStatusCode.BadRequest, "unsupported_field");
        ((string)response.Object["detail"]!).ShouldContain($"'{field}'");
        ((string)response.Object["path"]!).ShouldBe("$." + field);
    }

    [Fact]
    public async Task agent_fields_this_server_cannot_honour_are_refused_by_name_and_their_defaults_accepted()
    {
        var name = Names.Unique("fields");
        var refusals = new (string Field, object Body)[]
        {
            ("mcpServers", new { name, system_prompt = "x", mcpServers = new { docs = new { url = "https://mcp.example" } } }),
            ("network_access", new { name, system_prompt = "x", network_access = new { allow = new[] { "example.com" } } }),
        };
        foreach (var (field, body) in refusals) ShouldBeUnsupported(await _api.PostAsync("/v1/agents", body), field);
        (await _api.GetAsync($"/v1/agents?search={name}")).Object["total"]!.GetValue<int>().ShouldBe(0);

        // The defaults, as an SDK may send them, and parallel_tool_calls, which is honoured (the session takes it on).
        var created = await _api.PostAsync("/v1/agents", new
        {
            name, system_prompt = "x", initial_files = Array.Empty<object>(), mcpServers = new { }, network_access = (object?)null,
            parallel_tool_calls = false, tags = Array.Empty<string>(), tools = Array.Empty<object>(),
        });
        created.Status.ShouldBe(HttpStatusCode.Created, created.Text);
        created.Object["parallel_tool_calls"]!.GetValue<bool>().ShouldBeFalse();
        ShouldBeUnsupported(await _api.PatchAsync($"/v1/agents/{created.Object["id"]}", new { network_access = new { allow = new[] { "a" } } }), "network_access");
        var session = await _api.PostAsync("/v1/sessions", new { agent_id = created.Object["id"] });
        session.Object["parallel_tool_calls"]!.GetValue<bool>().ShouldBeFalse();
    }

    [Fact]
    public async Task session_fields_this_server_cannot_honour_are_refused_by_name_and_their_defaults_accepted()
    {
        var before = (await _api.GetAsync("/v1/sessions?limit=1")).Object["total"]!.GetValue<int>();
        var refusals = new (string Field, object Body)[]
        {
            ("mcpServers", new { mcpServers = new { docs = new { url = "https://mcp.example" } } }),
            ("network_access", new { network_access = new { allow = new[] { "example.com" } } }),
            ("agent_identity_id", new { agent_identity_id = "identity_1" }),
            ("hints", new { hints = new { renders_markdown = true } }),
        };
        foreach (var (field, body) in refusals) ShouldBeUnsupported(await _api.PostAsync("/v1/sessions", body), field);
        (await _api.GetAsync("/v1/sessions?limit=1")).Object["total"]!.GetValue<int>().ShouldBe(before);

        var created = await _api.PostAsync("/v1/sessions", new
        {
            initial_files = Array.Empty<object>(), mcpServers = new { }, hints = (object?)null, capabilities = Array.Empty<object>(),
            tools = Array.Empty<object>(), tags = Array.Empty<string>(), parallel_tool_calls = true,
        });
        created.Status.ShouldBe(HttpStatusCode.Created, created.Text);
        created.Object["parallel_tool_calls"]!.GetValue<bool>().ShouldBeTrue();
        ShouldBeUnsupported(await _api.PatchAsync($"/v1/sessions/{created.Object["id"]}", new { agent_identity_id = "identity_1" }), "agent_identity_id");
    }

    [Fact]
    public async Task a_messages_tags_and_metadata_are_kept_and_its_routing_fields_refused()
    {
        var sessionId = (string)(await _api.CreateSessionAsync())["id"]!;
        foreach (var (field, value) in new (string, object)[]
                 {
                     ("controls", new { model_id = "fast" }), ("external_actor", new { id = "slack:U1" }), ("addressed_participant_id", "participant_1"),
                 })
        {
            var body = new JsonObject { ["message"] = new JsonObject { ["role"] = "user", ["content"] = "hi" }, [field] = System.Text.Json.JsonSerializer.SerializeToNode(value) };
            ShouldBeUnsupported(await _api.PostAsync($"/v1/sessions/{sessionId}/messages", body), field);
        }

        var extra = await _api.PostAsync($"/v1/sessions/{sessionId}/messages", new { message = new { role = "user", content = "hi", mood = "calm" } });
        extra.ShouldBeProblem(HttpStatusCode.BadRequest, "unknown_field");
        ((string)extra.Object["path"]!).ShouldBe("$.message.mood");
        (await _api.EventsAsync(sessionId)).ShouldBeEmpty();

        var posted = await _api.PostAsync($"/v1/sessions/{sessionId}/messages", new
        {
            message = new { role = "user", content = "tagged" }, tags = new[] { "billing" }, metadata = new { ticket = 42 }, controls = (object?)null,
        });
        posted.Status.ShouldBe(HttpStatusCode.Created, posted.Text);
        posted.Object["tags"]!.AsArray().Select(t => (string)t!).ShouldBe(["billing"]);
        posted.Object["metadata"]!["ticket"]!.GetValue<int>().ShouldBe(42);
        await _api.WaitForTurnsAsync(sessionId);
        var listed = (await _api.GetAsync($"/v1/sessions/{sessionId}/messages")).Object["data"]![0]!;
        listed["tags"]!.AsArray().Select(t => (string)t!).ShouldBe(["billing"]);
        listed["metadata"]!["ticket"]!.GetValue<int>().ShouldBe(42);
    }
}
