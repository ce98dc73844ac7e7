using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Everruns.Modules.Events;

/// <summary>
/// One dedicated LISTEN connection per instance on <c>event_available</c>. Never fatal: when the
/// connection drops it reconnects with exponential backoff (1 s doubling to 30 s) and then wakes every
/// local waiter so that each re-reads from the last sequence it delivered.
/// </summary>
public sealed class EventListener(NpgsqlDataSource dataSource, SessionSignals signals, ILogger<EventListener> logger)
    : BackgroundService
{
    public const string Channel = "event_available";
    private static readonly TimeSpan InitialBackoff = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var backoff = InitialBackoff;
        var builder = new NpgsqlConnectionStringBuilder(dataSource.ConnectionString)
        {
            Pooling = false,
            KeepAlive = 15,
        };
        builder.ApplicationName += "-listen";

        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = new NpgsqlConnection(builder.ConnectionString);
                connection.Notification += (_, e) => OnNotification(e.Payload);
                await connection.OpenAsync(stoppingToken);
                await using (var listen = new NpgsqlCommand($"listen {Channel}", connection))
                    await listen.ExecuteNonQueryAsync(stoppingToken);

                logger.LogInformation("Listening on {Channel}", Channel);
                backoff = InitialBackoff;
                signals.PulseAll();
                while (!stoppingToken.IsCancellationRequested)
                    await connection.WaitAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                logger.LogWarning("LISTEN {Channel} connection lost ({Error}); reconnecting in {Backoff}", Channel, e.Message, backoff);
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

    private void OnNotification(string payload)
    {
        var separator = payload.LastIndexOf(':');
        if (separator > 0) signals.Pulse(payload[..separator]);
    }
}
