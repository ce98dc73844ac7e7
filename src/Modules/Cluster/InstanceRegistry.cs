using Everruns.Contracts;
using Everruns.Infrastructure;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Wolverine.Runtime;

namespace Everruns.Modules.Cluster;

/// <summary>
/// Keeps this instance's row in <c>everruns_ops.instances</c> (instance id, Wolverine node id, heartbeat), so
/// operators see instances by the names they gave them. Never fatal: a failed beat is retried on the next tick.
/// Kept beside Wolverine's node table because that one carries neither INSTANCE_ID nor the build version and start time
/// that <c>/v1/durable/workers</c> and the support bundle show; liveness and leadership are Wolverine's alone.
/// </summary>
public sealed class InstanceRegistry(
    NpgsqlDataSource dataSource, InstanceIdentity identity, ClusterOptions options, IWolverineRuntime wolverine,
    ILogger<InstanceRegistry> logger) : BackgroundService
{
    private readonly DateTimeOffset _startedAt = DateTimeOffset.UtcNow;

    public Guid NodeId => wolverine.Options.UniqueNodeId;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Heartbeat);
        do
        {
            try
            {
                await BeatAsync(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogWarning("Instance heartbeat failed: {Error}", e.Message);
            }
        } while (await timer.NextTickAsync(stoppingToken));
    }

    private async Task BeatAsync(CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand("""
            insert into everruns_ops.instances (instance_id, node_id, version, started_at, heartbeat_at, hostname, current_load,
                                                tasks_completed, tasks_failed)
            values (@id, @node, @version, @started, now(), @host, @load, @completed, @failed)
            on conflict (instance_id) do update set node_id = excluded.node_id, version = excluded.version,
                started_at = excluded.started_at, heartbeat_at = now(), stopped_at = null, hostname = excluded.hostname,
                current_load = excluded.current_load, tasks_completed = excluded.tasks_completed, tasks_failed = excluded.tasks_failed
            """);
        cmd.Parameters.AddWithValue("id", identity.InstanceId);
        cmd.Parameters.AddWithValue("node", NodeId);
        cmd.Parameters.AddWithValue("version", identity.Version);
        cmd.Parameters.AddWithValue("started", _startedAt);
        cmd.Parameters.AddWithValue("host", Environment.MachineName);
        cmd.Parameters.AddWithValue("load", (int)EverrunsMetrics.StepsRunning);
        cmd.Parameters.AddWithValue("completed", EverrunsMetrics.TaskCompleted.Total);
        cmd.Parameters.AddWithValue("failed", EverrunsMetrics.DeadLetters.Total); // a step fails by being dead-lettered, as in the time series
        await cmd.ExecuteNonQueryAsync(ct);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        try
        {
            await using var cmd = dataSource.CreateCommand("update everruns_ops.instances set stopped_at = now() where instance_id = @id");
            cmd.Parameters.AddWithValue("id", identity.InstanceId);
            await cmd.ExecuteNonQueryAsync(cancellationToken);
        }
        // Best effort: a host stopped twice (say, by StopApplication and then by its owner) may already have disposed
        // the data source; the row's silent heartbeat tells the rest of the cluster all the same.
        catch (Exception e) when (e is NpgsqlException or OperationCanceledException or ObjectDisposedException)
        {
            logger.LogWarning("Could not record this instance's stop: {Error}", e.Message);
        }
    }
}
