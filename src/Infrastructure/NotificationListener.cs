using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Everruns.Infrastructure;

/// <summary>
/// A module's side of a LISTEN channel: what to do with its notifications, and how to catch up after the instance's
/// LISTEN connection (<see cref="ListenConnection"/>) was lost (and, if it must, what to stop meanwhile). Registered as
/// a <see cref="NotificationListener"/> singleton. It is a hosted service too, for a listener that also runs a loop of
/// its own (the default does nothing).
/// </summary>
public abstract class NotificationListener(string channel) : BackgroundService
{
    public string Channel => channel;

    /// <summary>A notification arrived (on the connection's thread: keep it short).</summary>
    protected abstract void OnNotification(string payload);

    /// <summary>Listening (again): notifications may have been missed before this point.</summary>
    protected abstract Task OnListeningAsync(CancellationToken ct);

    /// <summary>The connection was lost: notifications are missed until <see cref="OnListeningAsync"/> is called again.</summary>
    protected virtual void OnConnectionLost()
    {
    }

    internal void Deliver(string payload) => OnNotification(payload);

    internal void ConnectionLost() => OnConnectionLost();

    internal Task ListeningAsync(CancellationToken ct) => OnListeningAsync(ct);

    protected override Task ExecuteAsync(CancellationToken stoppingToken) => Task.CompletedTask;
}

/// <summary>
/// The instance's one LISTEN connection, for every channel a module listens on. PostgreSQL wakes every listening
/// connection of a database at each commit that notifies, whatever the channel, and each wake-up is a transaction of its
/// own; one connection per instance instead of one per channel keeps that to one per instance. Never fatal: when the
/// connection drops it tells every listener, reconnects with exponential backoff (1 s doubling to 30 s), then tells them
/// again, so that each catches up on whatever it may have missed while the instance was deaf.
/// </summary>
public sealed class ListenConnection(NpgsqlDataSource dataSource, IEnumerable<NotificationListener> listeners,
    ILogger<ListenConnection> logger) : BackgroundService
{
    private static readonly TimeSpan InitialBackoff = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var byChannel = listeners.GroupBy(l => l.Channel).ToDictionary(g => g.Key, g => g.ToArray());
        if (byChannel.Count == 0) return;
        var channels = string.Join(", ", byChannel.Keys);
        var backoff = InitialBackoff;
        var builder = new NpgsqlConnectionStringBuilder(dataSource.ConnectionString) { Pooling = false, KeepAlive = 15 };
        builder.ApplicationName += "-listen";

        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = new NpgsqlConnection(builder.ConnectionString);
                connection.Notification += (_, e) =>
                {
                    if (!byChannel.TryGetValue(e.Channel, out var targets)) return;
                    foreach (var target in targets) target.Deliver(e.Payload);
                };
                await connection.OpenAsync(stoppingToken);
                await using (var listen = new NpgsqlCommand(string.Concat(byChannel.Keys.Select(c => $"listen {c};")), connection))
                    await listen.ExecuteNonQueryAsync(stoppingToken);

                logger.LogInformation("Listening on {Channels}", channels);
                backoff = InitialBackoff;
                foreach (var listener in byChannel.Values.SelectMany(l => l)) await listener.ListeningAsync(stoppingToken);
                while (!stoppingToken.IsCancellationRequested)
                    await connection.WaitAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                logger.LogWarning("LISTEN connection ({Channels}) lost ({Error}); reconnecting in {Backoff}", channels, e.Message, backoff);
                foreach (var listener in byChannel.Values.SelectMany(l => l)) listener.ConnectionLost();
                try
                {
                    await Task.Delay(backoff, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
            }
        }
    }
}
