using Everruns.Contracts;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Everruns.Modules.Execution;

/// <summary>
/// While a step of a turn runs, its instance records a heartbeat in <c>everruns.turn_heartbeats</c> every
/// TURN_HEARTBEAT_SECS, the first one after the first interval: a step done sooner (most are) writes none. The reaper
/// (a maintenance job) fails turns whose heartbeat, or before the first one the turn's start, is older than
/// TURN_STALE_SECS.
/// </summary>
public sealed class TurnHeartbeat(NpgsqlDataSource dataSource, InstanceIdentity identity, TurnHeartbeatOptions options,
    ILogger<TurnHeartbeat> logger)
{
    public IAsyncDisposable Begin(string sessionId, string turnId)
    {
        var stop = new CancellationTokenSource();
        var loop = Task.Run(async () =>
        {
            using var timer = new PeriodicTimer(options.Interval);
            while (await timer.NextTickAsync(stop.Token))
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
                    await cmd.ExecuteNonQueryAsync(stop.Token);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    logger.LogWarning("Turn heartbeat of {TurnId} failed: {Error}", turnId, e.Message);
                }
            }
        });
        return new Beat(stop, loop);
    }

    private sealed class Beat(CancellationTokenSource stop, Task loop) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await stop.CancelAsync();
            try
            {
                await loop;
            }
            catch (OperationCanceledException)
            {
            }

            stop.Dispose();
        }
    }
}

public sealed record TurnHeartbeatOptions(TimeSpan Interval);
