using Everruns.Contracts;
using Everruns.Infrastructure;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Everruns.Modules.Execution;

/// <summary>
/// While a step of a turn runs, its instance records a heartbeat in <c>everruns.turn_heartbeats</c> every
/// TURN_HEARTBEAT_SECS, the first one after the first interval: a step done sooner (most are) writes none. The reaper
/// (a maintenance job) fails turns whose heartbeat, or before the first one the turn's start, is older than
/// TURN_STALE_SECS.
/// Kept beside Wolverine's node health on purpose: that one tells a dead node, while this one tells a step that stopped
/// progressing on a live node (a model call hung past every timeout, a handler stuck on a lock), which only the
/// step itself can vouch for; the reaper tests (TurnReaperTests) fail without it.
/// </summary>
public sealed class TurnHeartbeat(NpgsqlDataSource dataSource, InstanceIdentity identity, TurnHeartbeatOptions options,
    ILogger<TurnHeartbeat> logger)
{
    public IAsyncDisposable Begin(string sessionId, string turnId)
    {
        var timer = new PeriodicTimer(options.Interval);
        var stop = new CancellationTokenSource();
        EverrunsMetrics.StepStarted();
        return new Beat(timer, stop, BeatAsync(timer, sessionId, turnId, stop.Token));
    }

    // Ends when the timer is disposed (the pending tick returns false): no exception on the way, at the end of every step.
    private async Task BeatAsync(PeriodicTimer timer, string sessionId, string turnId, CancellationToken stop)
    {
        while (await timer.WaitForNextTickAsync(CancellationToken.None))
        {
            try
            {
                await using var cmd = dataSource.CreateCommand("""
                    insert into everruns.turn_heartbeats (session_id, turn_id, instance_id, beat_at)
                    values (@s, @t, @i, now())
                    on conflict (session_id) do update set turn_id = excluded.turn_id, instance_id = excluded.instance_id, beat_at = now()
                    """);
                cmd.Parameters.AddWithValue("s", sessionId);
                cmd.Parameters.AddWithValue("t", turnId);
                cmd.Parameters.AddWithValue("i", identity.InstanceId);
                await cmd.ExecuteNonQueryAsync(stop);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                logger.LogWarning("Turn heartbeat of {TurnId} failed: {Error}", turnId, e.Message);
            }
        }
    }

    private sealed class Beat(PeriodicTimer timer, CancellationTokenSource stop, Task beating) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            timer.Dispose();
            // A beat being written when the step ended is abandoned (the database may be what is slow).
            if (!beating.IsCompleted) await stop.CancelAsync();
            await beating;
            stop.Dispose();
            EverrunsMetrics.StepEnded();
        }
    }
}

public sealed record TurnHeartbeatOptions(TimeSpan Interval);
