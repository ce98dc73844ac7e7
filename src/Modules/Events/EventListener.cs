using Everruns.Contracts;

namespace Everruns.Modules.Events;

/// <summary>
/// LISTEN <c>event_available</c> (payload <c>&lt;session id&gt;:&lt;sequence&gt;:&lt;event type&gt;</c>): wakes this
/// instance's waiters on that session that want that type, who read the new events from the store. After a reconnect
/// every waiter re-reads from the last sequence it delivered. A payload without a type (from an instance of an older
/// build during an upgrade) wakes every waiter of the session.
/// </summary>
public sealed class EventListener(SessionSignals signals) : NotificationListener(ChannelName)
{
    public const string ChannelName = "event_available";

    protected override void OnNotification(string payload)
    {
        var first = payload.IndexOf(':');
        if (first <= 0) return;
        var second = payload.IndexOf(':', first + 1);
        signals.Pulse(payload[..first], second > 0 && second < payload.Length - 1 ? payload[(second + 1)..] : null);
    }

    protected override Task OnListeningAsync(CancellationToken ct)
    {
        signals.PulseAll();
        return Task.CompletedTask;
    }
}
