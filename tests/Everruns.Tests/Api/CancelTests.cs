using System.Net;
using Everruns.Tests.Infrastructure;

namespace Everruns.Tests.Api;

/// <summary>Cancelling a turn stops its model call; the session then takes new messages.</summary>
public sealed class CancelTests
{
    [Fact]
    public async Task cancel_stops_a_streaming_turn_with_turn_cancelled_and_the_next_message_runs()
    {
        await using var database = await TestDatabase.CreateAsync("everruns_cancel");
        var url = database.Url;
        // A slow offline model: 150 ms between words, so the turn is still streaming when cancelled.
        await using var host = await TestHost.StartAsync(url, settings: new Dictionary<string, string>
        {
            ["OFFLINE_MODEL_CHUNK_DELAY_MS"] = "150",
        });
        var api = new ApiClient(host.Server.CreateClient());
        var sessionId = (string)(await api.CreateSessionAsync())["id"]!;
        await using var sse = await SseClient.OpenAsync(api.Http, $"/v1/sessions/{sessionId}/sse");

        await api.PostMessageAsync(sessionId, string.Join(" ", Enumerable.Range(1, 60).Select(i => $"word{i}")));
        await sse.UntilAsync(f => f.Event == "output.message.delta");
        // While the turn runs, the session is active and has no finish time.
        var running = (await api.GetAsync($"/v1/sessions/{sessionId}")).Object;
        ((string)running["status"]!).ShouldBe("active");
        running["finished_at"].ShouldBeNull();
        running["started_at"].ShouldNotBeNull();

        var cancel = await api.PostAsync($"/v1/sessions/{sessionId}/cancel");
        cancel.Status.ShouldBe(HttpStatusCode.OK, cancel.Text);
        ((string)cancel.Object["status"]!).ShouldBe("cancelled");

        var rest = await sse.UntilAsync(f => f.Event == "turn.cancelled");
        rest.ShouldNotContain(f => f.Event == "turn.completed" || f.Event == "output.message.completed");
        ((string)rest.Last().Json["data"]!["reason"]!).ShouldBe("User requested cancellation");

        // The model call stopped: no more deltas after the cancel settles. The cancel is in the conversation (the user's
        // request, the agent's note) and the session says it went idle; nothing else follows.
        await Task.Delay(1000);
        var events = await api.EventsAsync(sessionId);
        var cancelledAt = events.FindIndex(e => (string)e["type"]! == "turn.cancelled");
        var turnId = (string)events[cancelledAt]["context"]!["turn_id"]!;
        var after = events.Skip(cancelledAt + 1).ToList();
        after.Select(e => (string)e["type"]!).ShouldBe(["input.message", "output.message.completed", "session.idled"]);
        after.ShouldAllBe(e => (string)e["context"]!["turn_id"]! == turnId);
        ((string)after[0]["data"]!["message"]!["role"]!).ShouldBe("user");
        ((string)after[0]["data"]!["message"]!["content"]![0]!["text"]!).ShouldBe("User requested to cancel the work.");
        ((string)after[1]["data"]!["message"]!["role"]!).ShouldBe("agent");
        ((string)after[1]["data"]!["message"]!["content"]![0]!["text"]!).ShouldBe("Work was cancelled by user.");
        ((string)after[2]["data"]!["turn_id"]!).ShouldBe(turnId);
        var messages = (await api.GetAsync($"/v1/sessions/{sessionId}/messages")).Object["data"]!.AsArray();
        messages.Skip(1).Select(m => $"{m!["role"]}: {m["content"]![0]!["text"]}")
            .ShouldBe(["user: User requested to cancel the work.", "agent: Work was cancelled by user."]);
        var deltas = events.Count(e => (string)e["type"]! == "output.message.delta");
        deltas.ShouldBeLessThan(60);
        var stopped = (await api.GetAsync($"/v1/sessions/{sessionId}")).Object;
        ((string)stopped["status"]!).ShouldBe("idle");
        stopped["finished_at"].ShouldNotBeNull();
        stopped["output_preview"].ShouldBeNull(); // no answer yet

        (await api.PostAsync($"/v1/sessions/{sessionId}/cancel")).Object["status"]!.GetValue<string>().ShouldBe("no_op");

        await api.PostMessageAsync(sessionId, "again");
        var next = await sse.UntilAsync(f => f.Event is "turn.completed" or "turn.failed" or "turn.cancelled", TimeSpan.FromSeconds(30));
        next.Last().Event.ShouldBe("turn.completed");
        ((string)next.Last(f => f.Event == "output.message.completed").Json["data"]!["message"]!["content"]![0]!["text"]!)
            .ShouldBe("Echo: again");

        // A reason given is the one turn.cancelled shows.
        await api.PostMessageAsync(sessionId, string.Join(" ", Enumerable.Range(1, 60).Select(i => $"word{i}")));
        await sse.UntilAsync(f => f.Event == "output.message.delta");
        (await api.PostAsync($"/v1/sessions/{sessionId}/cancel", new { reason = "changed my mind" })).Object["status"]!.GetValue<string>()
            .ShouldBe("cancelled");
        ((string)(await sse.UntilAsync(f => f.Event == "turn.cancelled")).Last().Json["data"]!["reason"]!).ShouldBe("changed my mind");
        (await sse.UntilAsync(f => f.Event == "session.idled")).Select(f => f.Event).ShouldBe(["input.message", "output.message.completed", "session.idled"]);
    }
}
