using System.Net;
using System.Text.Json.Nodes;
using Everruns.Contracts;
using Everruns.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Everruns.Tests.Api;

/// <summary>Posting a message runs a durable agent turn whose every step is a session event.</summary>
[Collection(AppCollection.Name)]
public sealed class TurnTests(AppFixture app)
{
    private readonly ApiClient _api = app.Api;

    [Fact]
    public async Task a_model_call_commits_the_turn_state_its_sender_handed_over_without_reading_it_first()
    {
        var sessionId = (string)(await _api.CreateSessionAsync())["id"]!;
        var handedOver = await _api.CounterAsync("everruns_steps_handed_over_total");
        var retried = await _api.CounterAsync("everruns_step_commit_retries_total");
        var resumed = await _api.CounterAsync("everruns_steps_resumed_total");

        for (var turn = 1; turn <= 3; turn++)
        {
            await _api.PostMessageAsync(sessionId, $"question {turn}");
            var events = await _api.WaitForTurnsAsync(sessionId, turn);
            ((string)events.Last()["type"]!).ShouldBe(EventTypes.TurnCompleted);
        }

        // Each turn's model call committed with the state its message's transaction handed over (the lock, its writes and
        // the state's version check in one round trip), and none of those commits failed the check.
        (await _api.CounterAsync("everruns_steps_handed_over_total") - handedOver).ShouldBe(3);
        (await _api.CounterAsync("everruns_step_commit_retries_total") - retried).ShouldBe(0);
        (await _api.CounterAsync("everruns_steps_resumed_total") - resumed).ShouldBe(0);
    }

    [Fact]
    public async Task a_handled_step_leaves_the_inbox_within_seconds_not_minutes()
    {
        // The inbox keeps a handled message only to turn away a broker's redelivery; local queues have none. A turn's
        // model-call step is kept 10 s once handled (Wolverine keeps 5 minutes), and swept within the next 10 s.
        var sessionId = (string)(await _api.CreateSessionAsync())["id"]!;
        await _api.PostMessageAsync(sessionId, "how long is a step kept?");
        await _api.WaitForTurnsAsync(sessionId, 1);
        var ofThisSession = $"message_type = 'Everruns.Modules.Execution.RunTurnStep' and position(convert_to('{sessionId}', 'UTF8') in body) > 0";

        var keptFor = await PostgresServer.ScalarAsync<double>(app.DatabaseUrl,
            $"select coalesce(max(extract(epoch from keep_until - now())), -1)::float8 from wolverine.wolverine_incoming_envelopes where status = 'Handled' and {ofThisSession}");
        keptFor.ShouldBeInRange(0, 11); // the step is there, handled, and goes in seconds
        await Eventually.Until(async () => await PostgresServer.ScalarAsync<long>(app.DatabaseUrl,
            $"select count(*) from wolverine.wolverine_incoming_envelopes where {ofThisSession}") == 0, TimeSpan.FromSeconds(40));
    }

    [Fact]
    public async Task posting_a_message_runs_a_turn_that_sse_clients_watch_to_the_echoed_answer()
    {
        var agent = await _api.CreateAgentAsync();
        var sessionId = (string)(await _api.CreateSessionAsync(new { agent_id = (string)agent["id"]! }))["id"]!;

        await using var sse = await SseClient.OpenAsync(_api.Http, $"/v1/sessions/{sessionId}/sse");
        sse.Response.StatusCode.ShouldBe(HttpStatusCode.OK);
        sse.Response.Content.Headers.ContentType!.MediaType.ShouldBe("text/event-stream");
        var connected = await sse.NextAsync();
        connected.Event.ShouldBe("connected");
        connected.Retry.ShouldBe(100);

        var message = await _api.PostMessageAsync(sessionId, "hello over there");
        ((string)message["id"]!).ShouldMatch("^message_[0-9a-f]{32}$");
        ((string)message["role"]!).ShouldBe("user");

        var frames = await sse.UntilAsync(f => f.Event == "turn.completed");
        var types = frames.Select(f => f.Event).ToList();
        types.First().ShouldBe("input.message");
        types.ShouldContain("turn.started");
        types.ShouldContain("output.message.started");
        types.ShouldContain("output.message.delta");
        types.IndexOf("output.message.completed").ShouldBeLessThan(types.IndexOf("turn.completed"));

        foreach (var frame in frames)
        {
            frame.Id!.ShouldMatch("^event_[0-9a-f]{32}$");
            var envelope = frame.Json;
            ((string)envelope["id"]!).ShouldBe(frame.Id);
            ((string)envelope["type"]!).ShouldBe(frame.Event);
            ((string)envelope["session_id"]!).ShouldBe(sessionId);
            ((string)envelope["ts"]!).ShouldMatch(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"); // milliseconds, UTC as Z
            envelope["data"].ShouldBeOfType<JsonObject>();
        }

        // The per-session sequence is gap-free from the first event.
        frames.Select(f => f.Sequence).ShouldBe(Enumerable.Range(1, frames.Count).Select(i => (long)i));

        var completed = frames.Single(f => f.Event == "output.message.completed").Json["data"]!["message"]!;
        ((string)completed["role"]!).ShouldBe("agent");
        // The message's id is announced as it starts, and every delta names it.
        foreach (var frame in frames.Where(f => f.Event is "output.message.started" or "output.message.delta"))
            ((string)frame.Json["data"]!["message_id"]!).ShouldBe((string)completed["id"]!);
        ((string)completed["content"]![0]!["text"]!).ShouldBe("Echo: hello over there");
        var deltas = frames.Where(f => f.Event == "output.message.delta").Select(f => (string)f.Json["data"]!["delta"]!);
        string.Concat(deltas).ShouldBe("Echo: hello over there");

        var turnCompleted = frames.Last().Json["data"]!;
        var turnId = (string)frames.Single(f => f.Event == "turn.started").Json["data"]!["turn_id"]!;
        ((string)turnCompleted["turn_id"]!).ShouldBe(turnId);
        turnId.ShouldMatch("^turn_[0-9a-f]{32}$");
        turnCompleted["iterations"]!.GetValue<int>().ShouldBe(1);

        await Eventually.Until(async () => (string?)(await _api.GetAsync($"/v1/sessions/{sessionId}")).Object["status"] == "idle");
        var session = (await _api.GetAsync($"/v1/sessions/{sessionId}")).Object;
        ((string)session["output_preview"]!).ShouldBe("Echo: hello over there");
        ((string)session["preview"]!).ShouldBe("hello over there");

        var messages = (await _api.GetAsync($"/v1/sessions/{sessionId}/messages")).Object;
        messages["data"]!.AsArray().Select(m => (string)m!["role"]!).ShouldBe(["user", "agent"]);
        messages["messages"]!.AsArray().Count.ShouldBe(2);
        ((string)messages["data"]![0]!["id"]!).ShouldBe((string)message["id"]!);
    }

    [Fact]
    public async Task asking_the_time_calls_the_current_time_tool_and_answers_with_its_result()
    {
        var agent = await _api.CreateAgentAsync(capabilities: new[] { new { @ref = "current_time" } });
        var sessionId = (string)(await _api.CreateSessionAsync(new { agent_id = (string)agent["id"]! }))["id"]!;

        await _api.PostMessageAsync(sessionId, "What time is it?");
        var events = await _api.WaitForTurnsAsync(sessionId);
        var types = events.Select(e => (string)e["type"]!).ToList();
        types.Last().ShouldBe("turn.completed", string.Join(", ", types));

        var started = events.Single(e => (string)e["type"]! == "tool.started")["data"]!;
        ((string)started["tool_call"]!["name"]!).ShouldBe("current_time");
        ((string)started["display_name"]!).ShouldBe("Current time");
        var callId = (string)started["tool_call"]!["id"]!;

        var toolCompleted = events.Single(e => (string)e["type"]! == "tool.completed")["data"]!;
        ((string)toolCompleted["tool_call_id"]!).ShouldBe(callId);
        ((bool)toolCompleted["success"]!).ShouldBeTrue(toolCompleted.ToJsonString());
        ((string)toolCompleted["status"]!).ShouldBe("success");
        var result = JsonNode.Parse((string)toolCompleted["result"]![0]!["text"]!)!;
        var toolTime = DateTimeOffset.Parse((string)result["utc"]!);
        (DateTimeOffset.UtcNow - toolTime).ShouldBeLessThan(TimeSpan.FromMinutes(1));

        // Two model calls: the tool call, then the answer built from the tool's result.
        var answers = events.Where(e => (string)e["type"]! == "output.message.completed").ToList();
        // The first is working commentary (tools follow), the last the turn's answer.
        answers.Select(a => (string)a["data"]!["message"]!["phase"]!).ShouldBe(["commentary", "final_answer"]);
        answers.Count.ShouldBe(2);
        ((string)answers[0]["data"]!["message"]!["content"]![0]!["type"]!).ShouldBe("tool_call");
        ((string)answers[1]["data"]!["message"]!["content"]![0]!["text"]!).ShouldBe($"The current time is {(string)result["utc"]!} (UTC).");
        events.Last()["data"]!["iterations"]!.GetValue<int>().ShouldBe(2);
    }

    [Fact]
    public async Task the_time_tool_is_not_called_when_the_session_lacks_the_capability()
    {
        var sessionId = (string)(await _api.CreateSessionAsync())["id"]!;
        await _api.PostMessageAsync(sessionId, "What time is it?");
        var events = await _api.WaitForTurnsAsync(sessionId);
        events.ShouldNotContain(e => (string)e["type"]! == "tool.started");
        ((string)events.Last()["type"]!).ShouldBe("turn.completed");
    }

    [Fact]
    public async Task messages_posted_while_a_turn_runs_queue_behind_it_and_run_in_the_order_posted()
    {
        var sessionId = (string)(await _api.CreateSessionAsync())["id"]!;
        var posted = new List<string>();
        for (var i = 1; i <= 4; i++)
            posted.Add((string)(await _api.PostMessageAsync(sessionId, $"message {i}"))["id"]!);

        var events = await _api.WaitForTurnsAsync(sessionId, turns: 4);
        events.Select(e => e["sequence"]!.GetValue<long>()).ShouldBe(Enumerable.Range(1, events.Count).Select(i => (long)i));

        // Turns never overlap: each turn.started follows the previous turn's end.
        var running = false;
        foreach (var type in events.Select(e => (string)e["type"]!))
        {
            if (type == "turn.started")
            {
                running.ShouldBeFalse();
                running = true;
            }
            else if (type is "turn.completed") running = false;
        }

        events.Where(e => (string)e["type"]! == "turn.started").Select(e => (string)e["data"]!["input_message_id"]!).ShouldBe(posted);
        events.Where(e => (string)e["type"]! == "output.message.completed")
            .Select(e => (string)e["data"]!["message"]!["content"]![0]!["text"]!)
            .ShouldBe(Enumerable.Range(1, 4).Select(i => $"Echo: message {i}"));
    }

    [Fact]
    public async Task messages_posted_at_once_each_get_one_turn_in_the_order_of_their_events()
    {
        var sessionId = (string)(await _api.CreateSessionAsync())["id"]!;
        await Task.WhenAll(Enumerable.Range(1, 6).Select(i => _api.PostMessageAsync(sessionId, $"parallel {i}")));

        var events = await _api.WaitForTurnsAsync(sessionId, turns: 6);
        var inputs = events.Where(e => (string)e["type"]! == "input.message").Select(e => (string)e["data"]!["message"]!["id"]!).ToList();
        events.Where(e => (string)e["type"]! == "turn.started").Select(e => (string)e["data"]!["input_message_id"]!).ShouldBe(inputs);
        events.Count(e => (string)e["type"]! == "turn.completed").ShouldBe(6);
    }

    [Fact]
    public async Task one_read_gives_a_step_the_conversation_of_every_turn_and_what_its_own_turn_streamed()
    {
        var sessionId = (string)(await _api.CreateSessionAsync())["id"]!;
        await _api.PostMessageAsync(sessionId, "first");
        await _api.WaitForTurnsAsync(sessionId);
        await _api.PostMessageAsync(sessionId, "second");
        var events = await _api.WaitForTurnsAsync(sessionId, turns: 2);
        var turns = events.Where(e => (string)e["type"]! == "turn.started").Select(e => (string)e["data"]!["turn_id"]!).ToList();

        var log = app.Host.Services.GetRequiredService<ISessionEventLog>();
        string[] streamed = [EventTypes.OutputMessageStarted, EventTypes.OutputMessageDelta];
        var read = await log.ReadAsync(new ReadSessionEvents(sessionId,
            [EventTypes.InputMessage, EventTypes.TurnStarted, EventTypes.OutputMessageCompleted], TurnId: turns[1], TurnTypes: streamed));

        // The conversation's types of both turns, in sequence order...
        read.Where(e => !streamed.Contains(e.Type)).Select(e => e.Type).ShouldBe(
            ["input.message", "turn.started", "output.message.completed", "input.message", "turn.started", "output.message.completed"]);
        read.Select(e => e.Sequence).ShouldBe(read.Select(e => e.Sequence).Order());
        // ...and the streamed ones of the second turn only, all of them.
        var ofSecond = events.Where(e => streamed.Contains((string)e["type"]!) && (string?)e["context"]!["turn_id"] == turns[1]).ToList();
        ofSecond.ShouldNotBeEmpty();
        read.Where(e => streamed.Contains(e.Type)).Select(e => e.Sequence)
            .ShouldBe(ofSecond.Select(e => e["sequence"]!.GetValue<long>()));
    }

    [Fact]
    public async Task a_malformed_message_is_refused_and_appends_nothing()
    {
        var sessionId = (string)(await _api.CreateSessionAsync())["id"]!;
        var url = $"/v1/sessions/{sessionId}/messages";

        (await _api.PostAsync(url, new { })).ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_message");
        (await _api.PostAsync(url, new { message = new { role = "agent", content = "hi" } })).ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_role");
        (await _api.PostAsync(url, new { message = new { content = Array.Empty<object>() } })).ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_content");
        (await _api.PostAsync(url, new { message = new { content = new[] { new { type = "video" } } } })).ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_content");
        (await _api.PostAsync(url, new { message = new { content = "   " } })).ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_content");
        (await _api.PostAsync(url, new { message = new { content = new string('x', 100_001) } })).ShouldBeProblem(HttpStatusCode.BadRequest, "message_too_long");
        (await _api.PostAsync(url, "{\"message\": ")).Status.ShouldBe(HttpStatusCode.BadRequest);

        (await _api.EventsAsync(sessionId)).ShouldBeEmpty();

        // A plain string is accepted as one text part.
        var ok = await _api.PostAsync(url, new { message = new { content = "just text" } });
        ok.Status.ShouldBe(HttpStatusCode.Created, ok.Text);
        ((string)ok.Object["content"]![0]!["text"]!).ShouldBe("just text");
    }

    [Fact]
    public async Task a_read_batched_behind_the_session_lock_waits_for_the_holder_and_sees_what_it_committed()
    {
        var store = app.Host.Services.GetRequiredService<Marten.IDocumentStore>();
        var sessionId = Ids.New(Ids.Session);
        await using var holder = store.LightweightSession();
        (await Everruns.Modules.Execution.Turns.LoadLockedAsync(holder, sessionId)).ShouldBeNull();
        holder.Store(new Everruns.Modules.Execution.SessionTurns { Id = sessionId, Queue = [new("message_1", "queued")] });

        // Lock and read in one round trip, while the holder has the lock: it waits, then reads after the lock is its.
        await using var waiter = store.LightweightSession();
        var waiting = Everruns.Modules.Execution.Turns.LoadLockedAsync(waiter, sessionId);
        await Task.Delay(300);
        waiting.IsCompleted.ShouldBeFalse();

        await holder.SaveChangesAsync();
        var seen = await waiting.WaitAsync(TimeSpan.FromSeconds(10));
        seen.ShouldNotBeNull().Queue.Single().Text.ShouldBe("queued");
    }
}
