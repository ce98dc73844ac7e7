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
        using var wakeup = new Everruns.Contracts.Wakeup();
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
