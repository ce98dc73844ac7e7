using System.Threading.Channels;
using Everruns.Contracts;
using Everruns.Infrastructure;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Everruns.Modules.Events;

/// <summary>
/// Tells every instance (this one too) of the events this instance committed: after each commit
/// (<see cref="CommittedEvents"/>), one notification per session and event type, naming the commit's last sequence,
/// on <see cref="EventNotifications.Channel"/>. The notifications of the commits that came in meanwhile go out together,
/// in one statement of their own.
/// <para>
/// Why not the store's trigger, in the committing transaction: a transaction that notifies holds PostgreSQL's one
/// notification-queue lock from its commit's start until it is durable, so commits that notify are made one at a time,
/// each waiting for the one before it to reach the disk. Taken out of the turns' transactions, that lock is held
/// without a disk write, once for many commits: the turn's statements replayed by pgbench (ops/bench-sql) ran 30% more
/// turns/s for an eighth less PostgreSQL CPU per turn, this statement included.
/// </para>
/// <para>
/// What it costs: notifications are no longer atomic with their commit. A failed send is retried (from 100 ms,
/// doubling to 5 s) until it goes out, and what is pending when the instance stops is sent before it goes; only an
/// instance that dies between a commit and its send (about a millisecond) loses it. Live loops catch up by themselves
/// after a quiet while (SSE_CATCH_UP_SECS, 30 s), so such an event reaches the other instances' streams that much later.
/// </para>
/// </summary>
public sealed class EventNotifier(NpgsqlDataSource dataSource, ILogger<EventNotifier> logger) : BackgroundService
{
    private const int MaxBatch = 1000;
    private static readonly TimeSpan FirstRetry = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan MaxRetry = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan LastSend = TimeSpan.FromSeconds(5);

    private readonly Channel<string> _pending = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });

    /// <summary>The session's events up to <paramref name="through"/> committed, of these types. Never throws.</summary>
    public void Committed(string sessionId, long through, IEnumerable<string> types)
    {
        foreach (var type in types.Distinct())
            if (!_pending.Writer.TryWrite($"{sessionId}:{through}:{type}"))
                logger.LogWarning("Stopped: the commit of session {Session} through {Sequence} is not notified", sessionId, through);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new HashSet<string>();
        try
        {
            while (await _pending.Reader.WaitToReadAsync(stoppingToken))
            {
                Take(batch);
                await SendAsync(batch, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping: handlers have stopped committing (they stop before this service); send what is left.
        }

        _pending.Writer.TryComplete();
        using var timeout = new CancellationTokenSource(LastSend);
        try
        {
            for (Take(batch); batch.Count > 0; Take(batch)) await SendOnceAsync(batch, timeout.Token);
        }
        catch (Exception e)
        {
            var left = batch.Count + _pending.Reader.Count;
            logger.LogWarning(e, "{Count} event notifications were not sent before stopping: the other instances' live " +
                                 "streams see those events at their next catch-up", left);
        }
    }

    /// <summary>Adds what is pending to the batch (up to <see cref="MaxBatch"/> distinct notifications).</summary>
    private void Take(HashSet<string> batch)
    {
        while (batch.Count < MaxBatch && _pending.Reader.TryRead(out var payload)) batch.Add(payload);
    }

    private async Task SendAsync(HashSet<string> batch, CancellationToken ct)
    {
        var wait = FirstRetry;
        while (true)
        {
            try
            {
                await SendOnceAsync(batch, ct);
                return;
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                logger.LogWarning(e, "Sending {Count} event notifications failed; trying again in {Wait}", batch.Count, wait);
                await Task.Delay(wait, ct);
                wait = TimeSpan.FromTicks(Math.Min(wait.Ticks * 2, MaxRetry.Ticks));
            }
        }
    }

    private async Task SendOnceAsync(HashSet<string> batch, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand("select pg_notify($1, p) from unnest($2::text[]) p");
        command.Parameters.Add(new NpgsqlParameter { Value = EventNotifications.Channel });
        command.Parameters.Add(new NpgsqlParameter { Value = batch.ToArray() });
        await command.ExecuteNonQueryAsync(ct);
        EverrunsMetrics.EventNotifications.Add(batch.Count);
        batch.Clear();
    }
}
