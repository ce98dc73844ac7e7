using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Everruns.Contracts;

/// <summary>
/// One dedicated LISTEN connection per instance and channel. Never fatal: when the connection drops it reconnects
/// with exponential backoff (1 s doubling to 30 s), then calls <see cref="OnListeningAsync"/> so that the owner
/// catches up on whatever it may have missed while it was deaf.
/// </summary>
public abstract class NotificationListener(NpgsqlDataSource dataSource, string channel, ILogger logger) : BackgroundService
{
    private static readonly TimeSpan InitialBackoff = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);

    public string Channel => channel;

    /// <summary>A notification arrived (on the connection's thread: keep it short).</summary>
    protected abstract void OnNotification(string payload);

    /// <summary>Listening (again): notifications may have been missed before this point.</summary>
    protected abstract Task OnListeningAsync(CancellationToken ct);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var backoff = InitialBackoff;
        var builder = new NpgsqlConnectionStringBuilder(dataSource.ConnectionString) { Pooling = false, KeepAlive = 15 };
        builder.ApplicationName += "-listen";

        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = new NpgsqlConnection(builder.ConnectionString);
                connection.Notification += (_, e) => OnNotification(e.Payload);
                await connection.OpenAsync(stoppingToken);
                await using (var listen = new NpgsqlCommand($"listen {channel}", connection))
                    await listen.ExecuteNonQueryAsync(stoppingToken);

                logger.LogInformation("Listening on {Channel}", channel);
                backoff = InitialBackoff;
                await OnListeningAsync(stoppingToken);
                while (!stoppingToken.IsCancellationRequested)
                    await connection.WaitAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                logger.LogWarning("LISTEN {Channel} connection lost ({Error}); reconnecting in {Backoff}", channel, e.Message, backoff);
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
