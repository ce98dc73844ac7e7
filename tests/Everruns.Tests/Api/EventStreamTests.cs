using Microsoft.Extensions.DependencyInjection;
using System.Net;
using Everruns.Tests.Infrastructure;

namespace Everruns.Tests.Api;

/// <summary>The SSE stream and the paged event list over one session's history.</summary>
[Collection(AppCollection.Name)]
public sealed class EventStreamTests(AppFixture app)
{
    private readonly ApiClient _api = app.Api;

    /// <summary>A session with two finished turns (two echo answers) to read back.</summary>
    private async Task<(string SessionId, List<System.Text.Json.Nodes.JsonObject> Events)> SessionWithHistoryAsync()
    {
        var sessionId = (string)(await _api.CreateSessionAsync())["id"]!;
        await _api.PostMessageAsync(sessionId, "first question");
        await _api.WaitForTurnsAsync(sessionId, 1);
        await _api.PostMessageAsync(sessionId, "second question");
        return (sessionId, await _api.WaitForTurnsAsync(sessionId, 2));
    }

    [Fact]
    public async Task an_instance_listens_on_all_its_channels_over_one_connection()
    {
        // PostgreSQL wakes every listening connection at each notifying commit, whatever its channel: one per instance.
        var listening = await PostgresServer.ScalarAsync<long>(app.DatabaseUrl,
            "select count(*) from pg_stat_activity where datname = current_database() and application_name like '%-listen'");
        listening.ShouldBe(1);
        // Its channels (events, hand-offs, identity changes) are each exercised by the tests of what they wake.
    }

    [Fact]
    public async Task resuming_from_since_id_or_last_event_id_continues_with_no_gap_and_no_duplicate()
    {
        var (sessionId, events) = await SessionWithHistoryAsync();
        var middle = events[events.Count / 2];
        var expected = events.Skip(events.Count / 2 + 1).Select(e => (string)e["id"]!).ToList();

        await using (var sse = await SseClient.OpenAsync(_api.Http, $"/v1/sessions/{sessionId}/sse?since_id={middle["id"]}"))
        {
            (await sse.NextAsync()).Event.ShouldBe("connected");
            var frames = await sse.UntilAsync(f => f.Id == expected.Last());
            frames.Select(f => f.Id).ShouldBe(expected);
        }

        await using (var sse = await SseClient.OpenAsync(_api.Http, $"/v1/sessions/{sessionId}/sse", lastEventId: (string)middle["id"]!))
        {
            (await sse.NextAsync()).Event.ShouldBe("connected");
            var frames = await sse.UntilAsync(f => f.Id == expected.Last());
            frames.Select(f => f.Id).ShouldBe(expected);

            // Then live: a new turn's events follow on the same connection, sequence continuing.
            await _api.PostMessageAsync(sessionId, "third question");
            var live = await sse.UntilAsync(f => f.Event == "turn.completed");
            live.First().Sequence.ShouldBe(events.Count + 1);
            live.Select(f => f.Sequence).ShouldBe(Enumerable.Range(events.Count + 1, live.Count).Select(i => (long)i));
        }
    }

    [Fact]
    public async Task types_and_exclude_filter_the_stream_and_unknown_types_are_refused()
    {
        var (sessionId, events) = await SessionWithHistoryAsync();

        await using (var sse = await SseClient.OpenAsync(_api.Http, $"/v1/sessions/{sessionId}/sse?types=turn.started&types=turn.completed"))
        {
            (await sse.NextAsync()).Event.ShouldBe("connected");
            var frames = await sse.UntilAsync(f => f.Id == (string)events.Last()["id"]!);
            frames.Select(f => f.Event).ShouldBe(["turn.started", "turn.completed", "turn.started", "turn.completed"]);

            // Live, the stream is woken only by the types it sends, and still gets every one of them.
            await _api.PostMessageAsync(sessionId, "one more");
            (await sse.UntilAsync(f => f.Event == "turn.completed")).Select(f => f.Event).ShouldBe(["turn.started", "turn.completed"]);
        }

        await using (var sse = await SseClient.OpenAsync(_api.Http,
                         $"/v1/sessions/{sessionId}/sse?exclude=output.message.delta&exclude=output.message.started"))
        {
            (await sse.NextAsync()).Event.ShouldBe("connected");
            var frames = await sse.UntilAsync(f => f.Id == (string)events.Last()["id"]!);
            frames.ShouldNotContain(f => f.Event == "output.message.delta" || f.Event == "output.message.started");
            frames.Count.ShouldBe(events.Count(e => !((string)e["type"]!).StartsWith("output.message.") || (string)e["type"]! == "output.message.completed"));
        }

        // A type this server never writes filters nothing out, and selects nothing.
        await using (var sse = await SseClient.OpenAsync(_api.Http, $"/v1/sessions/{sessionId}/sse?exclude=voice.input_transcript.delta"))
        {
            (await sse.NextAsync()).Event.ShouldBe("connected");
            (await sse.UntilAsync(f => f.Id == (string)events.Last()["id"]!)).Count.ShouldBe(events.Count);
        }

        (await _api.EventsAsync(sessionId, "?exclude=voice.input_transcript.delta")).Select(e => (string)e["id"]!)
            .ShouldBe((await _api.EventsAsync(sessionId)).Select(e => (string)e["id"]!));
        (await _api.EventsAsync(sessionId, "?types=turn.exploded")).ShouldBeEmpty();
        (await _api.GetAsync($"/v1/sessions/{sessionId}/sse?since_id=event_nope")).ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_since_id");
        (await _api.GetAsync($"/v1/sessions/session_{Guid.NewGuid():N}/sse")).ShouldBeProblem(HttpStatusCode.NotFound, "session_not_found");
    }

    [Fact]
    public async Task streams_with_different_filters_and_positions_share_the_sessions_live_loop_which_ends_with_the_last_stream()
    {
        var (sessionId, events) = await SessionWithHistoryAsync();
        var fanOut = app.Host.Services.GetRequiredService<Everruns.Modules.Events.SessionFanOut>();

        var all = await SseClient.OpenAsync(_api.Http, $"/v1/sessions/{sessionId}/sse");
        var ends = await SseClient.OpenAsync(_api.Http, $"/v1/sessions/{sessionId}/sse?types=turn.completed");
        var tail = await SseClient.OpenAsync(_api.Http, $"/v1/sessions/{sessionId}/sse?since_id={events[^2]["id"]}&exclude=output.message.delta");
        foreach (var sse in new[] { all, ends, tail }) (await sse.NextAsync()).Event.ShouldBe("connected");
        (await all.UntilAsync(f => f.Id == (string)events[^1]["id"]!)).Count.ShouldBe(events.Count);
        (await ends.UntilAsync(f => f.Id == (string)events[^1]["id"]!)).Count.ShouldBe(2);
        (await tail.UntilAsync(f => f.Id == (string)events[^1]["id"]!)).Count.ShouldBe(1);
        fanOut.Serves(sessionId).ShouldBeTrue();

        // Live, each gets what its filter lets through, in order, right after its history.
        await _api.PostMessageAsync(sessionId, "one more");
        var live = await all.UntilAsync(f => f.Event == "turn.completed");
        live.Select(f => f.Sequence).ShouldBe(Enumerable.Range(events.Count + 1, live.Count).Select(i => (long)i));
        (await ends.UntilAsync(f => f.Event == "turn.completed")).Select(f => f.Id).ShouldBe([live[^1].Id]);
        (await tail.UntilAsync(f => f.Event == "turn.completed")).Select(f => f.Id)
            .ShouldBe(live.Where(f => f.Event != "output.message.delta").Select(f => f.Id));

        // A stream joining now is served from its own position too.
        await using (var late = await SseClient.OpenAsync(_api.Http, $"/v1/sessions/{sessionId}/sse?since_id={live[^1].Id}"))
        {
            (await late.NextAsync()).Event.ShouldBe("connected");
            await _api.PostMessageAsync(sessionId, "and another");
            var next = await late.UntilAsync(f => f.Event == "turn.completed");
            next[0].Sequence.ShouldBe(live[^1].Sequence + 1);
            (await all.UntilAsync(f => f.Event == "turn.completed")).Select(f => f.Id).ShouldBe(next.Select(f => f.Id));
        }

        foreach (var sse in new[] { all, ends, tail }) await sse.DisposeAsync();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (fanOut.Serves(sessionId) && DateTime.UtcNow < deadline) await Task.Delay(50);
        fanOut.Serves(sessionId).ShouldBeFalse();
    }

    [Fact]
    public async Task the_event_list_pages_forward_by_cursor_and_backward_by_limit()
    {
        var (sessionId, events) = await SessionWithHistoryAsync();
        var ids = events.Select(e => (string)e["id"]!).ToList();
        var url = $"/v1/sessions/{sessionId}/events";

        // Forward: since_id + limit, then the next page from the last id seen.
        var first = await _api.GetAsync($"{url}?since_id={ids[0]}&limit=3");
        first.Status.ShouldBe(HttpStatusCode.OK, first.Text);
        first.Object["data"]!.AsArray().Select(e => (string)e!["id"]!).ShouldBe(ids.Skip(1).Take(3));
        first.Object["has_more"]!.GetValue<bool>().ShouldBeTrue();
        // X-Total-Count leaves the streaming deltas out (the body's total counts every event the filter selects).
        var deltas = events.Count(e => ((string)e["type"]!).EndsWith(".delta", StringComparison.Ordinal));
        deltas.ShouldBeGreaterThan(0);
        first.Headers.GetValues("X-Total-Count").Single().ShouldBe((ids.Count - deltas).ToString());
        first.Object["total"]!.GetValue<int>().ShouldBe(ids.Count);
        var after = await _api.GetAsync($"{url}?after_sequence=4&limit=100");
        after.Object["data"]!.AsArray().Select(e => (string)e!["id"]!).ShouldBe(ids.Skip(4));
        after.Object["has_more"]!.GetValue<bool>().ShouldBeFalse();

        // Backward: the last N, then the N before a sequence; oldest first unless order_desc.
        var last = await _api.GetAsync($"{url}?limit=2");
        last.Object["data"]!.AsArray().Select(e => (string)e!["id"]!).ShouldBe(ids.TakeLast(2));
        var before = await _api.GetAsync($"{url}?limit=2&before_sequence=3");
        before.Object["data"]!.AsArray().Select(e => (string)e!["id"]!).ShouldBe(ids.Take(2));
        var desc = await _api.GetAsync($"{url}?limit=2&order_desc=true");
        desc.Object["data"]!.AsArray().Select(e => (string)e!["id"]!).ShouldBe(ids.TakeLast(2).Reverse());

        // Filters in SQL: types, turn_id, q.
        var turnId = (string)events.First(e => (string)e["type"]! == "turn.started")["data"]!["turn_id"]!;
        var ofTurn = (await _api.EventsAsync(sessionId, $"?turn_id={turnId}&types=output.message.completed")).Single();
        ((string)ofTurn["data"]!["message"]!["content"]![0]!["text"]!).ShouldBe("Echo: first question");
        (await _api.EventsAsync(sessionId, "?q=SECOND&types=input.message")).Count.ShouldBe(1);

        // around: up to `window` events on each side of an anchor, the anchor included, oldest first.
        var anchor = ids[5];
        var around = await _api.GetAsync($"{url}?around={anchor}&window=2");
        around.Status.ShouldBe(HttpStatusCode.OK, around.Text);
        around.Object["data"]!.AsArray().Select(e => (string)e!["id"]!).ShouldBe(ids.Skip(3).Take(5));
        around.Object["has_more"]!.GetValue<bool>().ShouldBeTrue();
        (await _api.GetAsync($"{url}?around={ids[0]}&window=1")).Object["data"]!.AsArray().Select(e => (string)e!["id"]!)
            .ShouldBe(ids.Take(2));
        // Context filters the SDK sends: this server's events carry no exec_id, trace_id or tags, so they select none.
        (await _api.EventsAsync(sessionId, "?exec_id=exec_1")).ShouldBeEmpty();
        (await _api.EventsAsync(sessionId, "?trace_id=t1")).ShouldBeEmpty();
        (await _api.EventsAsync(sessionId, "?tags=a&tags=b")).ShouldBeEmpty();
    }

    [Fact]
    public async Task bad_event_list_parameters_are_400s()
    {
        var sessionId = (string)(await _api.CreateSessionAsync())["id"]!;
        var url = $"/v1/sessions/{sessionId}/events";
        (await _api.GetAsync($"{url}?limit=0")).ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_limit");
        (await _api.GetAsync($"{url}?limit=1001")).ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_limit");
        (await _api.GetAsync($"{url}?after_sequence=abc")).ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_after_sequence");
        (await _api.GetAsync($"{url}?after_sequence=1&before_sequence=5")).ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_cursor");
        (await _api.GetAsync($"{url}?around=event_{Guid.NewGuid():N}")).ShouldBeProblem(HttpStatusCode.NotFound, "event_not_found");
        (await _api.GetAsync($"{url}?around=nope")).ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_around");
        (await _api.GetAsync($"{url}?around=event_{Guid.NewGuid():N}&after_sequence=1")).ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_cursor");
        (await _api.GetAsync($"{url}?around=event_{Guid.NewGuid():N}&window=501")).ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_window");
        (await _api.GetAsync($"{url}?from_ts=yesterday")).ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_from_ts");
        (await _api.GetAsync($"{url}?since_id=event_{Guid.NewGuid():N}")).ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_since_id");
    }
}

/// <summary>Connection cycling: a stream closes itself with a disconnecting event, and a reconnect misses nothing.</summary>
public sealed class SseCycleTests
{
    [Fact]
    public async Task streams_opened_together_are_cycled_at_different_moments_within_the_configured_interval()
    {
        await using var database = await TestDatabase.CreateAsync("everruns_cycle_jitter");
        await using var host = await TestHost.StartAsync(database.Url, settings: new Dictionary<string, string>
        {
            ["SSE_CONNECTION_CYCLE_SECS"] = "2", ["SSE_HEARTBEAT_INTERVAL_SECS"] = "30",
        });
        var api = new ApiClient(host.Server.CreateClient());
        var sessionId = (string)(await api.CreateSessionAsync())["id"]!;

        var opened = System.Diagnostics.Stopwatch.StartNew();
        var cycled = await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
        {
            await using var sse = await SseClient.OpenAsync(api.Http, $"/v1/sessions/{sessionId}/sse");
            await sse.UntilAsync(f => f.Event == "disconnecting", TimeSpan.FromSeconds(10));
            return opened.Elapsed.TotalSeconds;
        }));

        // Each within 90-100% of the interval (plus delivery), and not all at once: a deploy's reconnects spread out.
        cycled.ShouldAllBe(s => s >= 1.78 && s < 3.5);
        (cycled.Max() - cycled.Min()).ShouldBeGreaterThan(0.03);
    }

    [Fact]
    public async Task the_server_cycles_the_connection_with_a_disconnecting_event_and_the_client_resumes()
    {
        await using var database = await TestDatabase.CreateAsync("everruns_cycle");
        var url = database.Url;
        await using var host = await TestHost.StartAsync(url, settings: new Dictionary<string, string>
        {
            ["SSE_CONNECTION_CYCLE_SECS"] = "1", ["SSE_HEARTBEAT_INTERVAL_SECS"] = "0.3",
        });
        var api = new ApiClient(host.Server.CreateClient());
        var sessionId = (string)(await api.CreateSessionAsync())["id"]!;
        await api.PostMessageAsync(sessionId, "before the cycle");
        var events = await api.WaitForTurnsAsync(sessionId);

        await using var sse = await SseClient.OpenAsync(api.Http, $"/v1/sessions/{sessionId}/sse");
        var frames = await sse.UntilAsync(f => f.Event == "disconnecting", TimeSpan.FromSeconds(10));
        frames.Where(f => f.Id is not null).Select(f => f.Id).ShouldBe(events.Select(e => (string)e["id"]!));
        var disconnecting = frames.Last().Json;
        ((string)disconnecting["reason"]!).ShouldBe("connection_cycle");
        disconnecting["retry_ms"]!.GetValue<int>().ShouldBe(100);
        (await sse.EndsWithinAsync(TimeSpan.FromSeconds(5))).ShouldBeTrue();
        sse.Comments.ShouldBeGreaterThan(0); // heartbeats while idle

        // The connected event's own shape; retry hints: 100 ms while events flow and around the connection's ends, an
        // idle stream's heartbeats back off (200, 400, then 500 ms at most).
        frames[0].Data.ShouldBe("""{"status":"connected"}""");
        var hints = sse.RetryHints;
        hints.Where(h => h.Carrier != ": comment").ShouldAllBe(h => h.RetryMs == 100);
        hints.Select(h => h.Carrier).Where(c => c != ": comment")
            .ShouldBe(frames.Select(f => f.Event)); // every frame carries one
        var idle = hints.Where(h => h.Carrier == ": comment").Select(h => h.RetryMs).ToList();
        idle.ShouldNotBeEmpty();
        idle.ShouldBe(new[] { 200, 400, 500, 500, 500, 500 }.Take(idle.Count));

        await api.PostMessageAsync(sessionId, "after the cycle");
        await using var again = await SseClient.OpenAsync(api.Http, $"/v1/sessions/{sessionId}/sse?since_id={events.Last()["id"]}");
        (await again.NextAsync()).Event.ShouldBe("connected");
        var resumed = await again.UntilAsync(f => f.Event == "turn.completed");
        resumed.First().Sequence.ShouldBe(events.Count + 1);
    }
}
