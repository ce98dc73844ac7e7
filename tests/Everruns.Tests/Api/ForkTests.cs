using System.Net;
using System.Text.Json.Nodes;
using Everruns.Tests.Infrastructure;

namespace Everruns.Tests.Api;

/// <summary>
/// Forking a session (POST /v1/sessions/{id}/fork) copies its settings, its events up to the fork point and its files;
/// the fork's next turn sends the model the copied conversation. Also: the events summary, and the agent's message
/// after a failed turn, which the same fake model provokes.
/// </summary>
public sealed class ForkTests
{
    /// <summary>The (role, text) of each message the model was sent, system prompt left out.</summary>
    private static List<string> Sent(JsonObject request) =>
        request["messages"]!.AsArray().Select(m => m!.AsObject()).Where(m => (string?)m["role"] != "system")
            .Select(m => $"{m["role"]}: {(m["content"] is JsonArray parts ? string.Concat(parts.Select(p => (string?)p!["text"])) : (string?)m["content"])}")
            .ToList();

    [Fact]
    public async Task a_fork_at_the_end_of_the_first_turn_continues_that_conversation_with_the_parents_files_and_settings()
    {
        await using var fake = await FakeOpenAi.StartAsync();
        await using var database = await TestDatabase.CreateAsync("everruns_fork");
        await using var host = await TestHost.StartAsync(database.Url, settings: fake.ServerSettings());
        var api = new ApiClient(host.Server.CreateClient());

        var parent = await api.CreateSessionAsync(new
        {
            title = "Planning", tags = new[] { "a", "b" }, system_prompt = "Be brief.", locale = "uk-UA", max_iterations = 7,
            capabilities = new[] { new { @ref = "current_time" } },
            initial_files = new[] { new { path = "/notes/plan.md", content = "step 1" } },
        });
        var parentId = (string)parent["id"]!;
        foreach (var (text, turn) in new[] { ("one", 1), ("two", 2), ("three", 3) })
        {
            await api.PostMessageAsync(parentId, text);
            await api.WaitForTurnsAsync(parentId, turn);
        }

        var parentEvents = await api.EventsAsync(parentId);
        var firstEnd = parentEvents.First(e => (string)e["type"]! == "turn.completed")["sequence"]!.GetValue<long>();

        var forked = await api.PostAsync($"/v1/sessions/{parentId}/fork", new { up_to_sequence = firstEnd });
        forked.Status.ShouldBe(HttpStatusCode.Created, forked.Text);
        var fork = forked.Object;
        var forkId = (string)fork["id"]!;
        forkId.ShouldNotBe(parentId);
        forked.Headers.Location!.ToString().ShouldEndWith($"/v1/sessions/{forkId}");
        ((string)fork["forked_from_session_id"]!).ShouldBe(parentId);
        fork["forked_from_sequence"]!.GetValue<long>().ShouldBe(firstEnd);
        ((string)fork["title"]!).ShouldBe("Planning (fork)");
        fork["tags"]!.AsArray().Select(t => (string)t!).ShouldBe(["a", "b"]);
        ((string)fork["system_prompt"]!).ShouldBe("Be brief.");
        ((string)fork["locale"]!).ShouldBe("uk-UA");
        fork["max_iterations"]!.GetValue<int>().ShouldBe(7);
        ((string)fork["model_id"]!).ShouldBe((string)parent["model_id"]!);
        fork["capabilities"]!.AsArray().Select(c => (string)c!["ref"]!).ShouldBe(["current_time"]);
        ((string)fork["status"]!).ShouldBe("started");
        fork["usage"].ShouldBeNull(); // the parent's turns are not the fork's
        ((string)fork["workspace_id"]!).ShouldNotBe((string)parent["workspace_id"]!);
        ((string)fork["owner_principal_id"]!).ShouldBe((string)parent["owner_principal_id"]!);
        fork["is_pinned"]!.GetValue<bool>().ShouldBeFalse();

        // Its events: the parent's first turn, sequenced 1..N, each with an id of its own, data and context as they were.
        var copied = await api.EventsAsync(forkId);
        copied.Count.ShouldBe((int)firstEnd);
        copied.Select(e => e["sequence"]!.GetValue<long>()).ShouldBe(Enumerable.Range(1, (int)firstEnd).Select(i => (long)i));
        for (var i = 0; i < copied.Count; i++)
        {
            ((string)copied[i]["type"]!).ShouldBe((string)parentEvents[i]["type"]!);
            ((string)copied[i]["id"]!).ShouldNotBe((string)parentEvents[i]["id"]!);
            ((string)copied[i]["session_id"]!).ShouldBe(forkId);
            copied[i]["data"]!.ToJsonString().ShouldBe(parentEvents[i]["data"]!.ToJsonString());
            copied[i]["context"]!.ToJsonString().ShouldBe(parentEvents[i]["context"]!.ToJsonString());
        }

        copied.Select(e => (string)e["id"]!).ShouldBe(copied.Select(e => (string)e["id"]!).Order(StringComparer.Ordinal)); // ids in order

        // Its files: a copy (a change in the fork stays there).
        var file = await api.GetAsync($"/v1/sessions/{forkId}/fs/notes/plan.md");
        file.Status.ShouldBe(HttpStatusCode.OK, file.Text);
        ((string)file.Object["content"]!).ShouldBe("step 1");
        (await api.PutAsync($"/v1/sessions/{forkId}/fs/notes/plan.md", new { content = "forked" })).Status.ShouldBe(HttpStatusCode.OK);
        ((string)(await api.GetAsync($"/v1/sessions/{parentId}/fs/notes/plan.md")).Object["content"]!).ShouldBe("step 1");

        // The fork's next turn sends the model the first turn's conversation, not the parent's later ones.
        await api.PostMessageAsync(forkId, "four");
        var forkTurn = await api.WaitForTurnsAsync(forkId, 2);
        ((string)forkTurn.LastTurnEnd()["type"]!).ShouldBe("turn.completed");
        Sent(fake.Requests.Last().Body).ShouldBe(["user: one", "assistant: Fake says: one", "user: four"]);
        var messages = (await api.GetAsync($"/v1/sessions/{forkId}/messages")).Object["data"]!.AsArray()
            .Select(m => $"{m!["role"]}: {m["content"]![0]!["text"]}").ToList();
        messages.ShouldBe(["user: one", "agent: Fake says: one", "user: four", "agent: Fake says: four"]);
        // ...and the parent is as it was.
        (await api.EventsAsync(parentId)).Count.ShouldBe(parentEvents.Count);

        // Without up_to_sequence, every event; the overrides replace what they name.
        var whole = await api.PostAsync($"/v1/sessions/{parentId}/fork",
            new { title = "Other", tags = new[] { "x" }, system_prompt = "Be long.", locale = "en-GB" });
        whole.Status.ShouldBe(HttpStatusCode.Created, whole.Text);
        whole.Object["forked_from_sequence"]!.GetValue<long>().ShouldBe(parentEvents.Count);
        ((string)whole.Object["title"]!).ShouldBe("Other");
        whole.Object["tags"]!.AsArray().Select(t => (string)t!).ShouldBe(["x"]);
        ((string)whole.Object["system_prompt"]!).ShouldBe("Be long.");
        ((string)whole.Object["locale"]!).ShouldBe("en-GB");
        (await api.EventsAsync((string)whole.Object["id"]!)).Count.ShouldBe(parentEvents.Count);
        var got = (await api.GetAsync($"/v1/sessions/{whole.Object["id"]}")).Object;
        ((string)got["forked_from_session_id"]!).ShouldBe(parentId);

        // Refused: a point inside a turn, past the end, a bad field, an unknown session, an unknown model.
        var secondStart = parentEvents.Where(e => (string)e["type"]! == "turn.started").ElementAt(1)["sequence"]!.GetValue<long>();
        var inside = await api.PostAsync($"/v1/sessions/{parentId}/fork", new { up_to_sequence = secondStart });
        inside.ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_up_to_sequence");
        inside.Text.ShouldContain("up_to_sequence");
        (await api.PostAsync($"/v1/sessions/{parentId}/fork", new { up_to_sequence = parentEvents.Count + 1 }))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_up_to_sequence");
        // (Between a user's message and its turn's start: the message would sit in the fork with no turn.)
        ((string)parentEvents[0]["type"]!).ShouldBe("input.message");
        (await api.PostAsync($"/v1/sessions/{parentId}/fork", new { up_to_sequence = 1 }))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_up_to_sequence");
        (await api.PostAsync($"/v1/sessions/{parentId}/fork", new { up_to_sequence = -1 }))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_up_to_sequence");
        (await api.PostAsync($"/v1/sessions/{parentId}/fork", new { agent_identity_id = "x" })).ShouldBeProblem(HttpStatusCode.BadRequest, "unknown_field");
        (await api.PostAsync($"/v1/sessions/{parentId}/fork", new { model_id = "no-such-model" })).ShouldBeProblem(HttpStatusCode.NotFound, "model_not_found");
        (await api.PostAsync($"/v1/sessions/session_{Guid.NewGuid():N}/fork")).ShouldBeProblem(HttpStatusCode.NotFound, "session_not_found");

        // A parent with a turn running is busy, unless the fork is at a point before that turn.
        await api.PostMessageAsync(parentId, "hold on");
        await Eventually.Until(async () => (string?)(await api.GetAsync($"/v1/sessions/{parentId}")).Object["status"] == "active");
        (await api.PostAsync($"/v1/sessions/{parentId}/fork")).ShouldBeProblem(HttpStatusCode.Conflict, "session_busy");
        (await api.PostAsync($"/v1/sessions/{parentId}/fork", new { up_to_sequence = firstEnd })).Status.ShouldBe(HttpStatusCode.Created);
        fake.Release();
        await api.WaitForTurnsAsync(parentId, 4);
        (await api.PostAsync($"/v1/sessions/{parentId}/fork")).Status.ShouldBe(HttpStatusCode.Created);
    }

    [Fact]
    public async Task the_next_turn_after_a_cancel_sends_the_model_the_users_request_and_the_agents_note()
    {
        await using var fake = await FakeOpenAi.StartAsync();
        await using var database = await TestDatabase.CreateAsync("everruns_cancel_conversation");
        await using var host = await TestHost.StartAsync(database.Url, settings: fake.ServerSettings());
        var api = new ApiClient(host.Server.CreateClient());
        var sessionId = (string)(await api.CreateSessionAsync())["id"]!;

        await api.PostMessageAsync(sessionId, "hold this");
        await Eventually.Until(async () => !fake.Requests.IsEmpty);
        (await api.PostAsync($"/v1/sessions/{sessionId}/cancel")).Object["status"]!.GetValue<string>().ShouldBe("cancelled");
        await api.PostMessageAsync(sessionId, "next");
        await api.WaitForTurnsAsync(sessionId, 2);
        Sent(fake.Requests.Last().Body).ShouldBe([
            "user: hold this", "user: User requested to cancel the work.", "assistant: Work was cancelled by user.", "user: next",
        ]);
        fake.Release();
    }

    [Fact]
    public async Task a_failed_turn_ends_with_the_agents_message_for_its_error_and_the_summary_counts_it()
    {
        await using var fake = await FakeOpenAi.StartAsync();
        await using var database = await TestDatabase.CreateAsync("everruns_fail_message");
        await using var host = await TestHost.StartAsync(database.Url,
            settings: new Dictionary<string, string>(fake.ServerSettings()) { ["MODEL_RETRY_BASE_DELAY_MS"] = "10" });
        var api = new ApiClient(host.Server.CreateClient());
        var sessionId = (string)(await api.CreateSessionAsync())["id"]!;

        await api.PostMessageAsync(sessionId, "hello");
        await api.WaitForTurnsAsync(sessionId, 1);
        await api.PostMessageAsync(sessionId, "fail 429");
        var events = await api.WaitForTurnsAsync(sessionId, 2);
        await api.PostMessageAsync(sessionId, "please break");
        events = await api.WaitForTurnsAsync(sessionId, 3);

        // After each turn.failed, the agent's message in plain words for its code, the code on the event.
        var types = events.Select(e => (string)e["type"]!).ToList();
        var failures = types.Select((t, i) => (t, i)).Where(x => x.t == "turn.failed").Select(x => x.i).ToList();
        failures.Count.ShouldBe(2);
        foreach (var (at, code, text) in new[]
                 {
                     (failures[0], "provider_rate_limited", "Rate limited by the AI provider. Please wait a moment."),
                     (failures[1], "processing_error", "I encountered an error while processing your request. Please try again later."),
                 })
        {
            ((string)events[at]["data"]!["error_code"]!).ShouldBe(code);
            var message = events[at + 1];
            ((string)message["type"]!).ShouldBe("output.message.completed");
            ((string)message["data"]!["error_code"]!).ShouldBe(code);
            ((string)message["data"]!["message"]!["role"]!).ShouldBe("agent");
            ((string)message["data"]!["message"]!["content"]![0]!["text"]!).ShouldBe(text);
            ((string)message["context"]!["turn_id"]!).ShouldBe((string)events[at]["context"]!["turn_id"]!);
        }

        events.Last()["type"]!.GetValue<string>().ShouldBe("output.message.completed");
        var messages = (await api.GetAsync($"/v1/sessions/{sessionId}/messages")).Object["data"]!.AsArray()
            .Select(m => $"{m!["role"]}: {m["content"]![0]!["text"]}").ToList();
        messages.ShouldBe([
            "user: hello", "agent: Fake says: hello",
            "user: fail 429", "agent: Rate limited by the AI provider. Please wait a moment.",
            "user: please break", "agent: I encountered an error while processing your request. Please try again later.",
        ]);
        ((string)(await api.GetAsync($"/v1/sessions/{sessionId}")).Object["status"]!).ShouldBe("idle");

        // The summary counts what the event list holds, by type.
        var summary = await api.GetAsync($"/v1/sessions/{sessionId}/events/summary");
        summary.Status.ShouldBe(HttpStatusCode.OK, summary.Text);
        var all = await api.EventsAsync(sessionId);
        summary.Object["total"]!.GetValue<long>().ShouldBe(all.Count);
        var byType = summary.Object["by_type"]!.AsArray().Select(t => ((string)t!["event_type"]!, t["count"]!.GetValue<long>())).ToList();
        byType.Select(t => t.Item1).ShouldBe(all.Select(e => (string)e["type"]!).Distinct().Order(StringComparer.Ordinal));
        foreach (var (type, count) in byType) count.ShouldBe(all.Count(e => (string)e["type"]! == type), type);
        summary.Object["turn_count"]!.GetValue<long>().ShouldBe(3);
        summary.Object["error_count"]!.GetValue<long>().ShouldBe(2);
        DateTimeOffset.Parse((string)summary.Object["first_ts"]!).ShouldBe(DateTimeOffset.Parse((string)all[0]["ts"]!), TimeSpan.FromMilliseconds(1));
        DateTimeOffset.Parse((string)summary.Object["last_ts"]!).ShouldBe(DateTimeOffset.Parse((string)all[^1]["ts"]!), TimeSpan.FromMilliseconds(1));

        var empty = (await api.GetAsync($"/v1/sessions/{(string)(await api.CreateSessionAsync())["id"]!}/events/summary")).Object;
        empty["total"]!.GetValue<long>().ShouldBe(0);
        empty["by_type"]!.AsArray().ShouldBeEmpty();
        empty["first_ts"].ShouldBeNull();
        (await api.GetAsync($"/v1/sessions/session_{Guid.NewGuid():N}/events/summary")).ShouldBeProblem(HttpStatusCode.NotFound, "session_not_found");
    }
}

/// <summary>A fork is its caller's, whoever owns the parent; with <c>agent_id</c> it runs with that agent.</summary>
[Collection(AppCollection.Name)]
public sealed class ForkOwnerTests(AppFixture app)
{
    [Fact]
    public async Task a_fork_belongs_to_its_caller_and_may_take_another_agent()
    {
        var orgId = (string)(await app.Api.PostAsync("/v1/orgs", new { name = Names.Unique("forks") })).Object["id"]!;
        async Task<(ApiClient Client, string UserId)> Member(string name)
        {
            var member = await app.Api.PostAsync($"/v1/orgs/{orgId}/members", new { name, role = "admin" });
            member.Status.ShouldBe(HttpStatusCode.Created, member.Text);
            return (new ApiClient(app.Host.Server.CreateClient().As((string)member.Object["token"]!["token"]!, orgId)), (string)member.Object["user_id"]!);
        }

        var (alice, _) = await Member("alice");
        var (bob, bobId) = await Member("bob");
        var first = await alice.CreateAgentAsync(systemPrompt: "First agent.");
        var second = await bob.CreateAgentAsync(systemPrompt: "Second agent.", capabilities: new[] { new { @ref = "current_time" } });
        var parent = await alice.CreateSessionAsync(new { agent_id = (string)first["id"]!, tools = new[] { new { type = "client_side", name = "get_weather", description = "Weather", parameters = new { type = "object" } } } });

        var forked = await bob.PostAsync($"/v1/sessions/{parent["id"]}/fork", new { agent_id = (string)second["id"]! });
        forked.Status.ShouldBe(HttpStatusCode.Created, forked.Text);
        var fork = forked.Object;
        ((string)fork["owner_principal_id"]!).ShouldBe("principal_" + bobId["user_".Length..]);
        ((string)fork["owner_principal_id"]!).ShouldNotBe((string)parent["owner_principal_id"]!);
        ((string)fork["agent_id"]!).ShouldBe((string)second["id"]!);
        ((string)fork["system_prompt"]!).ShouldBe("Second agent.");
        // It runs on that agent's version; a fork that keeps its agent keeps the parent's version.
        ((string)fork["agent_version_id"]!).ShouldBe((string)(await bob.GetAsync($"/v1/agents/{second["id"]}/versions")).Array[0]!["id"]!);
        fork["tools"]!.AsArray().Select(t => (string)t!["name"]!).ShouldBe(["get_weather"]); // the session's own, kept
        fork.ContainsKey("title").ShouldBeFalse(); // the parent had none

        // Retried with its Idempotency-Key, the same fork (not a second one).
        var key = Guid.NewGuid().ToString();
        var once = await bob.PostAsync($"/v1/sessions/{parent["id"]}/fork", new { title = "kept" }, key);
        once.Status.ShouldBe(HttpStatusCode.Created, once.Text);
        ((string)once.Object["agent_version_id"]!).ShouldBe((string)parent["agent_version_id"]!);
        var again = await bob.PostAsync($"/v1/sessions/{parent["id"]}/fork", new { title = "kept" }, key);
        ((string)again.Object["id"]!).ShouldBe((string)once.Object["id"]!);

        (await bob.PostAsync($"/v1/sessions/{parent["id"]}/fork", new { agent_id = "agent_" + Guid.NewGuid().ToString("N") }))
            .ShouldBeProblem(HttpStatusCode.NotFound, "agent_not_found");
        (await bob.PostAsync($"/v1/sessions/{parent["id"]}/fork", new { agent_id = "agent_x" })).ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_agent_id");
        // Another org's session is not found.
        (await app.Api.PostAsync($"/v1/sessions/{parent["id"]}/fork")).ShouldBeProblem(HttpStatusCode.NotFound, "session_not_found");
    }
}
