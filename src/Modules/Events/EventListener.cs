using Everruns.Contracts;
using Everruns.Infrastructure;

namespace Everruns.Modules.Events;

/// <summary>
/// LISTEN <c>event_available</c> (payload <c>&lt;session id&gt;:&lt;sequence&gt;:&lt;event type&gt;</c>): wakes this
/// instance's waiters on that session that want that type, who read the new events from the store. After a reconnect
/// every waiter re-reads from the last sequence it delivered. A payload without a type (from an instance of an older
/// build during an upgrade) wakes every waiter of the session; without a sequence, every one of them reads.
/// </summary>
public sealed class EventListener(SessionSignals signals) : NotificationListener(ChannelName)
{
    public const string ChannelName = EventNotifications.Channel;

    protected override void OnNotification(string payload)
    {
        var first = payload.IndexOf(':');
        if (first <= 0) return;
        var second = payload.IndexOf(':', first + 1);
        var type = second > 0 && second < payload.Length - 1 ? payload[(second + 1)..] : null;
        long? sequence = second > first && long.TryParse(payload.AsSpan(first + 1, second - first - 1), out var s) ? s : null;
        signals.Pulse(payload[..first], type, sequence);
    }

    protected override Task OnListeningAsync(CancellationToken ct)
    {
        signals.PulseAll();
        return Task.CompletedTask;
    }
}
