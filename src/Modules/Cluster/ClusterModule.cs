using Everruns.Infrastructure;
using Marten;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Wolverine;

namespace Everruns.Modules.Cluster;

/// <summary>
/// The instances of one deployment: who is alive (heartbeats), the singleton maintenance jobs that Wolverine's
/// leader assigns to exactly one of them, and each instance's own metrics time series.
/// </summary>
public sealed class ClusterModule : IEverrunsModule
{
    public string Name => "cluster";

    public void AddServices(IServiceCollection services, IConfiguration configuration)
    {
        services.ConfigureMarten(marten =>
        {
            var instances = new Weasel.Postgresql.Tables.Table("everruns_ops.instances");
            instances.AddColumn("instance_id", "text").AsPrimaryKey();
            instances.AddColumn("node_id", "uuid").NotNull();
            instances.AddColumn("version", "text").NotNull();
            instances.AddColumn("started_at", "timestamptz").NotNull();
            instances.AddColumn("heartbeat_at", "timestamptz").NotNull();
            instances.AddColumn("stopped_at", "timestamptz");
            // As of its last beat: its host, its turn steps running now, finished and failed since it started.
            instances.AddColumn("hostname", "text");
            instances.AddColumn("current_load", "integer").NotNull().DefaultValueByExpression("0");
            instances.AddColumn("tasks_completed", "bigint").NotNull().DefaultValueByExpression("0");
            instances.AddColumn("tasks_failed", "bigint").NotNull().DefaultValueByExpression("0");
            var runs = new Weasel.Postgresql.Tables.Table("everruns_ops.maintenance_runs");
            runs.AddColumn("id", "bigint").AsPrimaryKey().BigAutoIncrement();
            runs.AddColumn("job", "text").NotNull();
            runs.AddColumn("instance_id", "text").NotNull();
            runs.AddColumn("started_at", "timestamptz").NotNull();
            runs.AddColumn("finished_at", "timestamptz").NotNull();
            runs.AddColumn("affected", "bigint").NotNull();
            runs.AddColumn("error", "text");
            runs.Indexes.Add(new Weasel.Postgresql.Tables.IndexDefinition("ix_maintenance_runs_job") { Columns = ["job", "started_at"] });
            marten.Storage.ExtendedSchemaObjects.AddRange([instances, runs]);
        });
        services.AddSingleton(ClusterOptions.From(configuration));
        services.AddSingleton<InstanceRegistry>();
        services.AddHostedService(sp => sp.GetRequiredService<InstanceRegistry>());
        services.AddSingleton<MetricsTimeline>();
        services.AddHostedService(sp => sp.GetRequiredService<MetricsTimeline>());
        services.AddSingularAgent<MaintenanceAgent>();
    }

    public void MapEndpoints(IEndpointRouteBuilder endpoints)
    {
    }
}

/// <summary>
/// Heartbeat and maintenance settings (docs/configuration.md); <paramref name="TurnConcurrency"/>: the model calls an
/// instance runs at once (Execution's TURN_CONCURRENCY), a worker's capacity as /v1/durable/workers shows it.
/// </summary>
public sealed record ClusterOptions(
    TimeSpan Heartbeat,
    TimeSpan StaleAfter,
    TimeSpan MaintenanceInterval,
    TimeSpan TurnStaleAfter,
    TimeSpan SessionRetention,
    TimeSpan MetricsRetention,
    TimeSpan MetricsSample,
    int MetricsSamples,
    int TurnConcurrency)
{
    public static ClusterOptions From(IConfiguration configuration) => new(
        Settings.Seconds(configuration, "NODE_HEALTH_CHECK_SECS", 10),
        Settings.Seconds(configuration, "NODE_STALE_SECS", 60),
        Settings.Seconds(configuration, "MAINTENANCE_INTERVAL_SECS", 60),
        Settings.Seconds(configuration, "TURN_STALE_SECS", 600),
        TimeSpan.FromDays(Settings.Positive(configuration, "SESSION_RETENTION_DAYS", 30)),
        TimeSpan.FromDays(Settings.Positive(configuration, "METRICS_RETENTION_DAYS", 7)),
        Settings.Seconds(configuration, "METRICS_SAMPLE_SECS", 10),
        (int)Settings.Positive(configuration, "METRICS_SAMPLES", 360),
        (int)Settings.Positive(configuration, "TURN_CONCURRENCY", 200));
}
