using Everruns.Contracts;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Everruns.Modules.Events;

/// <summary>
/// LISTEN <c>event_available</c> (payload <c>&lt;session id&gt;:&lt;sequence&gt;</c>): wakes this instance's waiters on
/// that session, who read the new events from the store. After a reconnect every waiter re-reads from the last
/// sequence it delivered.
/// </summary>
public sealed class EventListener(NpgsqlDataSource dataSource, SessionSignals signals, ILogger<EventListener> logger)
    : NotificationListener(dataSource, ChannelName, logger)
{
    public const string ChannelName = "event_available";

    protected override void OnNotification(string payload)
    {
        var separator = payload.LastIndexOf(':');
        if (separator > 0) signals.Pulse(payload[..separator]);
    }

    protected override Task OnListeningAsync(CancellationToken ct)
    {
        signals.PulseAll();
        return Task.CompletedTask;
    }
}
