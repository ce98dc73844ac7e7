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
}
