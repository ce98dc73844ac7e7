using Everruns.Modules.Events;

namespace Everruns.Tests.Foundation;

public sealed class SessionSignalsTests
{
    private static readonly TimeSpan Short = TimeSpan.FromMilliseconds(50);

    [Fact]
    public async Task a_subscription_filtered_by_type_wakes_only_for_its_types_or_an_unknown_one()
    {
        var signals = new SessionSignals();
        using var all = signals.Subscribe("s1");
        using var ends = signals.Subscribe("s1", type => type == "turn.completed");

        signals.Pulse("s1", "output.message.delta");
        (await all.WaitAsync(Short, CancellationToken.None)).ShouldBeTrue();
        (await ends.WaitAsync(Short, CancellationToken.None)).ShouldBeFalse();

        signals.Pulse("s1", "turn.completed");
        (await ends.WaitAsync(Short, CancellationToken.None)).ShouldBeTrue();

        signals.Pulse("s1"); // a notification without a type (an older instance): everyone re-reads
        (await ends.WaitAsync(Short, CancellationToken.None)).ShouldBeTrue();

        signals.PulseAll(); // after a reconnect: everyone re-reads
        (await ends.WaitAsync(Short, CancellationToken.None)).ShouldBeTrue();

        signals.Pulse("s2", "turn.completed"); // another session
        (await ends.WaitAsync(Short, CancellationToken.None)).ShouldBeFalse();
    }

    [Fact]
    public void a_listener_is_called_with_each_signals_type_and_sequence_and_nulls_when_anything_may_have_been_missed()
    {
        var signals = new SessionSignals();
        var seen = new List<(string?, long?)>();
        var listening = signals.Listen("s1", (type, sequence) => seen.Add((type, sequence)));

        signals.Pulse("s1", "turn.started", 4);
        signals.Pulse("s2", "turn.started", 5);
        signals.PulseAll();
        var before = signals.Generation("s1");
        signals.Pulse("s1", "turn.completed");
        signals.Generation("s1").ShouldBeGreaterThan(before);
        seen.ShouldBe([("turn.started", 4L), (null, null), ("turn.completed", null)]);

        listening.Dispose();
        signals.Pulse("s1", "turn.started");
        seen.Count.ShouldBe(3);
        signals.Generation("s1").ShouldBe(0); // nobody listens: nothing kept for the session
    }

    [Fact]
    public async Task a_wakeup_keeps_one_pending_pulse_and_ends_a_wait_on_timeout_or_cancel_without_throwing()
    {
        using var wakeup = new Everruns.Infrastructure.Wakeup();
        wakeup.Pulse();
        wakeup.Pulse(); // coalesces into the pending one
        (await wakeup.WaitAsync(Short, CancellationToken.None)).ShouldBeTrue();
        (await wakeup.WaitAsync(Short, CancellationToken.None)).ShouldBeFalse(); // timed out

        var waiting = wakeup.WaitAsync(Timeout.InfiniteTimeSpan, CancellationToken.None);
        waiting.IsCompleted.ShouldBeFalse();
        wakeup.Pulse();
        (await waiting.WaitAsync(TimeSpan.FromSeconds(5))).ShouldBeTrue();

        using var cancel = new CancellationTokenSource();
        waiting = wakeup.WaitAsync(Timeout.InfiniteTimeSpan, cancel.Token);
        await cancel.CancelAsync();
        (await waiting.WaitAsync(TimeSpan.FromSeconds(5))).ShouldBeFalse(); // no OperationCanceledException
        (await wakeup.WaitAsync(Short, cancel.Token)).ShouldBeFalse(); // already cancelled

        // A pulse after the cancelled wait gave up is not lost: the next wait takes it.
        wakeup.Pulse();
        (await wakeup.WaitAsync(Short, CancellationToken.None)).ShouldBeTrue();

        waiting = wakeup.WaitAsync(Timeout.InfiniteTimeSpan, CancellationToken.None);
        wakeup.Dispose();
        (await waiting.WaitAsync(TimeSpan.FromSeconds(5))).ShouldBeFalse();
    }
}

public sealed class SessionSignalsRaceTests
{
    [Fact]
    public async Task a_listener_added_while_the_sessions_last_one_is_removed_is_still_signalled()
    {
        // The session's last listener leaving (a live loop closing) while a new one joins (a stream attaching again): the
        // new one must hear the session's signals, not be kept in a list nobody signals any more.
        var signals = new SessionSignals();
        var lost = 0;
        for (var i = 0; i < 10_000; i++)
        {
            var session = $"s{i}";
            var old = signals.Listen(session, (_, _) => { });
            var heard = 0;
            IDisposable? joined = null;
            await Races.AtOnceAsync(old.Dispose, () => joined = signals.Listen(session, (_, _) => Interlocked.Increment(ref heard)));
            signals.Pulse(session, "turn.completed", 1);
            if (heard == 0) lost++;
            joined!.Dispose();
        }

        lost.ShouldBe(0);
    }
}

public sealed class WakeupRaceTests
{
    [Fact]
    public async Task a_timeout_already_past_ends_the_wait_at_once_however_far_past()
    {
        // A caller that computes what is left of its own deadline may pass a slightly negative time when it was held up
        // in between: the wait ends at once, it neither throws (at -2 ms or less a timer refuses the time) nor waits for
        // ever (a timer rounds -1.5 ms to -1, its "infinite"; only Timeout.InfiniteTimeSpan itself means that here).
        using var wakeup = new Everruns.Infrastructure.Wakeup();
        foreach (var past in new[] { -0.5, -1.5, -2, -50 })
        {
            var waiting = wakeup.WaitAsync(TimeSpan.FromMilliseconds(past), CancellationToken.None);
            (await waiting.WaitAsync(TimeSpan.FromSeconds(5))).ShouldBeFalse($"{past} ms");
        }

        wakeup.Pulse(); // a pending pulse is still taken at once
        (await wakeup.WaitAsync(TimeSpan.FromMilliseconds(-5), CancellationToken.None)).ShouldBeTrue();
    }

    [Fact]
    public async Task a_pulse_that_meets_a_wait_giving_up_is_kept_for_the_next_wait()
    {
        // A wait that ends (cancelled, or timed out) just as a pulse takes it: it may report false, but then the pulse
        // is pending and the next wait returns at once; it is never lost.
        using var wakeup = new Everruns.Infrastructure.Wakeup();
        var lost = 0;
        for (var i = 0; i < 10_000; i++)
        {
            using var cancel = new CancellationTokenSource();
            var waiting = wakeup.WaitAsync(Timeout.InfiniteTimeSpan, cancel.Token);
            await Races.AtOnceAsync(cancel.Cancel, wakeup.Pulse);
            if (!await waiting && !await wakeup.WaitAsync(TimeSpan.Zero, CancellationToken.None)) lost++;
            while (await wakeup.WaitAsync(TimeSpan.Zero, CancellationToken.None)) { } // nothing left pending
        }

        lost.ShouldBe(0);
    }
}

internal static class Races
{
    /// <summary>Runs the two on two threads released at the same moment, to make their race as likely as it can be.</summary>
    public static async Task AtOnceAsync(Action first, Action second)
    {
        using var start = new Barrier(2);
        await Task.WhenAll(
            Task.Run(() =>
            {
                start.SignalAndWait();
                first();
            }),
            Task.Run(() =>
            {
                start.SignalAndWait();
                second();
            }));
    }
}

public sealed class SingleFlightTests
{
    [Fact]
    public async Task callers_that_ask_while_the_work_runs_share_it_and_the_next_caller_runs_it_again()
    {
        var flights = new Everruns.Infrastructure.SingleFlight<int>();
        var runs = 0;
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        async Task<int> Work()
        {
            var run = Interlocked.Increment(ref runs);
            await release.Task;
            return run;
        }

        var together = Enumerable.Range(0, 50).Select(_ => Task.Run(() => flights.RunAsync("k", Work))).ToList();
        await Everruns.Tests.Infrastructure.Eventually.Until(() => Task.FromResult(runs == 1), TimeSpan.FromSeconds(5));
        var other = flights.RunAsync("other key", () => Task.FromResult(-1));
        release.SetResult();

        (await Task.WhenAll(together)).ShouldAllBe(r => r == 1);
        (await other).ShouldBe(-1);
        (await flights.RunAsync("k", Work)).ShouldBe(2); // ended, so forgotten
        await Should.ThrowAsync<InvalidOperationException>(() => flights.RunAsync("k", () => throw new InvalidOperationException()));
        (await flights.RunAsync("k", Work)).ShouldBe(3); // a failed run is forgotten too
        runs.ShouldBe(3);
    }
}
