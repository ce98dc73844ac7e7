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
    public void a_listener_is_called_with_each_signals_type_and_null_when_anything_may_have_been_missed()
    {
        var signals = new SessionSignals();
        var seen = new List<string?>();
        var listening = signals.Listen("s1", seen.Add);

        signals.Pulse("s1", "turn.started");
        signals.Pulse("s2", "turn.started");
        signals.PulseAll();
        var before = signals.Generation("s1");
        signals.Pulse("s1", "turn.completed");
        signals.Generation("s1").ShouldBeGreaterThan(before);
        seen.ShouldBe(["turn.started", null, "turn.completed"]);

        listening.Dispose();
        signals.Pulse("s1", "turn.started");
        seen.Count.ShouldBe(3);
        signals.Generation("s1").ShouldBe(0); // nobody listens: nothing kept for the session
    }
}
