using System.Diagnostics;
using Everruns.Contracts;
using Everruns.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using Wolverine;
using Wolverine.Runtime.Agents;

namespace Everruns.Modules.Cluster;

/// <summary>
/// The cluster's scheduled maintenance, run by exactly one instance: Wolverine's elected leader assigns this
/// singular agent to one node and moves it to another when that node stops heart-beating. Every
/// MAINTENANCE_INTERVAL_SECS it asks each owning module to do its job and records the run in
/// <c>everruns_ops.maintenance_runs</c>.
/// </summary>
public sealed class MaintenanceAgent(
    IServiceProvider services, NpgsqlDataSource dataSource, ClusterOptions options, InstanceIdentity identity,
    ILogger<MaintenanceAgent> logger) : SingularAgent(AgentScheme)
{
    public const string AgentScheme = "everruns-maintenance";

    /// <summary>The jobs, in the order they run; README "Maintenance jobs" documents each.</summary>
    public IReadOnlyList<(string Name, Func<object> Message)> Jobs =>
    [
        ("reap_stale_turns", () => new ReapStaleTurns(options.TurnStaleAfter)),
        ("expire_tool_waits", () => new ExpireToolWaits()),
        ("purge_deleted_sessions", () => new PurgeDeletedSessions(options.SessionRetention)),
        ("roll_up_metrics", () => new RollUpMetrics(options.MetricsRetention)),
        ("reap_stale_instances", () => new ReapStaleInstances(options.StaleAfter)),
        ("purge_idempotency_keys", () => new PurgeIdempotencyKeys(IdempotencyKeys.Retention)),
    ];

    private CancellationTokenSource? _stop;
    private Task? _loop;

    protected override Task startAsync(CancellationToken cancellationToken)
    {
        logger.LogInformation("Maintenance jobs run on this instance ({Instance}) from now on", identity.InstanceId);
        _stop = new CancellationTokenSource();
        _loop = Task.Run(() => LoopAsync(_stop.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    protected override async Task stopAsync(CancellationToken cancellationToken)
    {
        if (_stop is null || _loop is null) return;
        await _stop.CancelAsync();
        await _loop.WaitAsync(cancellationToken).ContinueWith(_ => { }, CancellationToken.None);
        _stop.Dispose();
        logger.LogInformation("Maintenance jobs stopped on this instance ({Instance})", identity.InstanceId);
    }

    private async Task LoopAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(options.MaintenanceInterval);
        do
        {
            foreach (var (name, message) in Jobs)
            {
                if (ct.IsCancellationRequested) return;
                await RunAsync(name, message(), ct);
            }
        } while (await timer.NextTickAsync(ct));
    }

    private async Task RunAsync(string job, object message, CancellationToken ct)
    {
        var started = DateTimeOffset.UtcNow;
        var watch = Stopwatch.StartNew();
        long affected = 0;
        string? error = null;
        try
        {
            await using var scope = services.CreateAsyncScope();
            var bus = scope.ServiceProvider.GetRequiredService<IMessageBus>();
            affected = (await bus.InvokeAsync<MaintenanceDone>(message, ct)).Affected;
            if (affected > 0) logger.LogInformation("Maintenance {Job}: {Affected} affected in {Elapsed} ms", job, affected, watch.ElapsedMilliseconds);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            return;
        }
        catch (Exception e)
        {
            error = e.Message;
            logger.LogWarning(e, "Maintenance {Job} failed", job);
        }

        try
        {
            await using var cmd = dataSource.CreateCommand("""
                insert into everruns_ops.maintenance_runs (job, instance_id, started_at, finished_at, affected, error)
                values (@job, @instance, @started, now(), @affected, @error);
                delete from everruns_ops.maintenance_runs where job = @job and started_at < now() - interval '1 day';
                """);
            cmd.Parameters.AddWithValue("job", job);
            cmd.Parameters.AddWithValue("instance", identity.InstanceId);
            cmd.Parameters.AddWithValue("started", started);
            cmd.Parameters.AddWithValue("affected", affected);
            cmd.Parameters.AddWithValue("error", (object?)error ?? DBNull.Value);
            await cmd.ExecuteNonQueryAsync(ct);
        }
        catch (Exception e) when (e is NpgsqlException or OperationCanceledException)
        {
            logger.LogWarning("Could not record maintenance run of {Job}: {Error}", job, e.Message);
        }
    }
}

/// <summary>Forget instances that stopped (or died) long ago: their rows only clutter the workers list.</summary>
public sealed record ReapStaleInstances(TimeSpan StaleAfter);

public static class ReapStaleInstancesHandler
{
    public static async Task<MaintenanceDone> Handle(ReapStaleInstances reap, NpgsqlDataSource dataSource, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand(
            "delete from everruns_ops.instances where heartbeat_at < now() - @keep");
        // Kept for a while after they go quiet, so the workers list shows who died.
        cmd.Parameters.AddWithValue("keep", reap.StaleAfter * 10 + TimeSpan.FromMinutes(5));
        return new MaintenanceDone(await cmd.ExecuteNonQueryAsync(ct));
    }
}
