using Everruns.Contracts;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Everruns.Modules.Events;

/// <summary>
/// LISTEN <c>event_available</c> (see <see cref="EventNotification"/>): wakes this instance's waiters on the session
/// that want one of the types named, who read the new events from the store. After a reconnect every waiter re-reads
/// from the last sequence it delivered. A payload without a type (from an instance of an older build during an
/// upgrade) wakes every waiter of the session.
/// </summary>
public sealed class EventListener(NpgsqlDataSource dataSource, SessionSignals signals, ILogger<EventListener> logger)
    : NotificationListener(dataSource, ChannelName, logger)
{
    public const string ChannelName = "event_available";

    protected override void OnNotification(string payload)
    {
        var (sessionId, types) = EventNotification.Parse(payload);
        if (sessionId is null) return;
        if (types is null) signals.Pulse(sessionId);
        else foreach (var type in types) signals.Pulse(sessionId, type);
    }

    protected override Task OnListeningAsync(CancellationToken ct)
    {
        signals.PulseAll();
        return Task.CompletedTask;
    }
}
