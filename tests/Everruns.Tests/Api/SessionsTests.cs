using System.Net;
using Everruns.Tests.Infrastructure;

namespace Everruns.Tests.Api;

[Collection(AppCollection.Name)]
public sealed class SessionsTests(AppFixture app)
{
    private readonly ApiClient _api = app.Api;

    [Fact]
    public async Task a_session_opened_with_an_agent_captures_its_settings_and_counts_on_the_agent()
    {
        var agent = await _api.CreateAgentAsync(systemPrompt: "Agent prompt", capabilities: new[] { new { @ref = "current_time" } });
        var session = await _api.CreateSessionAsync(new { agent_id = (string)agent["id"]!, title = "First chat", tags = new[] { "t1" } });

        ((string)session["id"]!).ShouldMatch("^session_[0-9a-f]{32}$");
        ((string)session["agent_id"]!).ShouldBe((string)agent["id"]!);
        ((string)session["status"]!).ShouldBe("started");
        ((string)session["title"]!).ShouldBe("First chat");
        ((string)session["system_prompt"]!).ShouldBe("Agent prompt");
        session["capabilities"]!.AsArray().ShouldBeEmpty(); // the session's own: its agent's are added when a turn runs
        ((string)session["owner_principal_id"]!).ShouldMatch("^principal_[0-9a-f]{32}$");
        ((string)session["organization_id"]!).ShouldMatch("^org_[0-9a-f]{32}$");
        foreach (var url in new[] { "self_url", "view_url", "ui_link" }) session[url].ShouldNotBeNull();

        // Session counts are kept by the Agents module from the SessionOpened message (outbox, then handler).
        var deadline = DateTime.UtcNow.AddSeconds(10);
        long count;
        do
        {
            count = (await _api.GetAsync($"/v1/agents/{agent["id"]}")).Object["session_count"]!.GetValue<long>();
            if (count == 1) break;
            await Task.Delay(100);
        } while (DateTime.UtcNow < deadline);
        count.ShouldBe(1);

        var own = await _api.CreateSessionAsync(new { agent_id = (string)agent["id"]!, capabilities = new[] { new { @ref = "current_time" } } });
        own["capabilities"]!.AsArray().Select(c => (string)c!["ref"]!).ShouldBe(["current_time"]);
    }

    [Fact]
    public async Task a_session_can_name_its_agent_by_name_or_have_none()
    {
        var agent = await _api.CreateAgentAsync();
        var byName = await _api.CreateSessionAsync(new { agent_name = (string)agent["name"]! });
        ((string)byName["agent_id"]!).ShouldBe((string)agent["id"]!);

        var bare = await _api.PostAsync("/v1/sessions");
        bare.Status.ShouldBe(HttpStatusCode.Created, bare.Text);
        bare.Object.ContainsKey("agent_id").ShouldBeFalse();
    }

    [Fact]
    public async Task bad_session_input_is_a_clear_4xx_and_opens_nothing()
    {
        var agent = await _api.CreateAgentAsync();
        var before = await CountSessionsAsync();

        (await _api.PostAsync("/v1/sessions", new { agent_id = (string)agent["id"]!, agent_name = (string)agent["name"]! }))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "agent_id_and_name");
        (await _api.PostAsync("/v1/sessions", new { agent_id = "agent_" + Guid.NewGuid().ToString("N") }))
            .ShouldBeProblem(HttpStatusCode.NotFound, "agent_not_found");
        (await _api.PostAsync("/v1/sessions", new { agent_name = "no-such-agent-anywhere" }))
            .ShouldBeProblem(HttpStatusCode.NotFound, "agent_not_found");
        (await _api.PostAsync("/v1/sessions", new { agent_id = "agent_xyz" })).ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_agent_id");
        (await _api.PostAsync("/v1/sessions", new { model_id = "no-such-model" })).ShouldBeProblem(HttpStatusCode.NotFound, "model_not_found");
        (await _api.PostAsync("/v1/sessions", new { harness_name = "deep-research" })).ShouldBeProblem(HttpStatusCode.BadRequest, "unknown_harness");
        (await _api.PostAsync("/v1/sessions", "{\"title\": 5}")).Status.ShouldBe(HttpStatusCode.BadRequest);

        (await CountSessionsAsync()).ShouldBe(before);
        (await _api.GetAsync("/v1/sessions/session_nope")).ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_session_id");
        (await _api.GetAsync("/v1/sessions/session_" + Guid.NewGuid().ToString("N"))).ShouldBeProblem(HttpStatusCode.NotFound, "session_not_found");
    }

    [Fact]
    public async Task patch_list_and_delete_follow_the_public_api()
    {
        var agent = await _api.CreateAgentAsync();
        var id = (string)(await _api.CreateSessionAsync(new { agent_id = (string)agent["id"]! }))["id"]!;

        var patched = await _api.PatchAsync($"/v1/sessions/{id}", new { title = "Renamed", tags = new[] { "x" } });
        patched.Status.ShouldBe(HttpStatusCode.OK, patched.Text);
        ((string)patched.Object["title"]!).ShouldBe("Renamed");

        var list = await _api.GetAsync($"/v1/sessions?agent_id={agent["id"]}");
        list.Object["data"]!.AsArray().Select(s => (string)s!["id"]!).ShouldBe([id]);
        list.Object["sessions"]!.AsArray().Count.ShouldBe(1);
        list.Object["total"]!.GetValue<int>().ShouldBe(1);

        (await _api.DeleteAsync($"/v1/sessions/{id}")).Status.ShouldBe(HttpStatusCode.NoContent);
        (await _api.GetAsync($"/v1/sessions/{id}")).ShouldBeProblem(HttpStatusCode.NotFound, "session_not_found");
        (await _api.GetAsync($"/v1/sessions?agent_id={agent["id"]}")).Object["total"]!.GetValue<int>().ShouldBe(0);
        (await _api.PostAsync($"/v1/sessions/{id}/messages", new { message = new { content = "hi" } }))
            .ShouldBeProblem(HttpStatusCode.NotFound, "session_not_found");
    }

    [Fact]
    public async Task a_sessions_activity_follows_its_turns_without_rewriting_the_session()
    {
        var sessionId = (string)(await _api.CreateSessionAsync(new { title = "activity" }))["id"]!;
        ((string)(await _api.GetAsync($"/v1/sessions/{sessionId}")).Object["status"]!).ShouldBe("started");

        // The activity is kept with the turn state; the session document is not written.
        Task<DateTime> lastWritten() => PostgresServer.ScalarAsync<DateTime>(app.DatabaseUrl,
            $"select mt_last_modified from everruns.mt_doc_session where id = '{sessionId}'");
        var written = await lastWritten();
        await _api.PostMessageAsync(sessionId, "first of two");
        await _api.PostMessageAsync(sessionId, "second of two");
        await _api.WaitForTurnsAsync(sessionId, turns: 2);
        var session = (await _api.GetAsync($"/v1/sessions/{sessionId}")).Object;
        ((string)session["status"]!).ShouldBe("idle");
        ((string)session["preview"]!).ShouldBe("first of two"); // the first input stays the preview
        ((string)session["output_preview"]!).ShouldBe("Echo: second of two");
        var finishedAt = session["finished_at"]!.GetValue<DateTimeOffset>();
        session["started_at"]!.GetValue<DateTimeOffset>().ShouldBeLessThanOrEqualTo(finishedAt);
        session["updated_at"]!.GetValue<DateTimeOffset>().ShouldBeGreaterThanOrEqualTo(finishedAt);
        (await lastWritten()).ShouldBe(written);

        // The list shows the same.
        var listed = (await _api.GetAsync("/v1/sessions?search=activity")).Object["data"]!.AsArray()
            .Single(s => (string)s!["id"]! == sessionId)!;
        ((string)listed["status"]!).ShouldBe("idle");
        ((string)listed["output_preview"]!).ShouldBe("Echo: second of two");
        listed["finished_at"]!.GetValue<DateTimeOffset>().ShouldBe(finishedAt);
    }

    [Fact]
    public async Task cancel_without_a_running_turn_is_a_no_op()
    {
        var id = (string)(await _api.CreateSessionAsync())["id"]!;
        var response = await _api.PostAsync($"/v1/sessions/{id}/cancel");
        response.Status.ShouldBe(HttpStatusCode.OK, response.Text);
        ((string)response.Object["status"]!).ShouldBe("no_op");
        response.Object["message"].ShouldNotBeNull();
    }

    [Fact]
    public async Task discovery_lists_the_generic_harness_the_models_and_the_capabilities()
    {
        var harnesses = await _api.GetAsync("/v1/harnesses");
        harnesses.Status.ShouldBe(HttpStatusCode.OK);
        var generic = harnesses.Object["data"]!.AsArray().Single()!;
        ((string)generic["name"]!).ShouldBe("generic");
        ((string)generic["id"]!).ShouldMatch("^harness_[0-9a-f]{32}$");
        (await _api.GetAsync($"/v1/harnesses/{generic["id"]}")).Status.ShouldBe(HttpStatusCode.OK);

        var models = await _api.GetAsync("/v1/models");
        models.Status.ShouldBe(HttpStatusCode.OK);
        var offline = models.Object["data"]!.AsArray().Single(m => (string)m!["model_id"]! == "everruns-offline")!;
        ((string)offline["id"]!).ShouldMatch("^model_[0-9a-f]{32}$");
        foreach (var field in new[] { "provider_id", "display_name", "capabilities", "source", "provider_type", "self_url", "ui_link" })
            offline[field].ShouldNotBeNull(field);
        (await _api.GetAsync($"/v1/models/{offline["id"]}")).Status.ShouldBe(HttpStatusCode.OK);
        (await _api.GetAsync("/v1/models/model_nope")).ShouldBeProblem(HttpStatusCode.NotFound, "model_not_found");

        // A session may name its model by id or by name.
        (await _api.PostAsync("/v1/sessions", new { model_id = (string)offline["id"]! })).Status.ShouldBe(HttpStatusCode.Created);

        var capabilities = await _api.GetAsync("/v1/capabilities?search=time");
        var time = capabilities.Object["data"]!.AsArray().Single()!;
        ((string)time["id"]!).ShouldBe("current_time");
        ((string)time["status"]!).ShouldBe("active");
        (await _api.GetAsync("/v1/capabilities/current_time")).Status.ShouldBe(HttpStatusCode.OK);
        (await _api.GetAsync("/v1/capabilities/teleport")).ShouldBeProblem(HttpStatusCode.NotFound, "capability_not_found");
    }

    private Task<long> CountSessionsAsync() =>
        PostgresServer.ScalarAsync<long>(app.DatabaseUrl, "select count(*) from everruns.mt_doc_session");
}
