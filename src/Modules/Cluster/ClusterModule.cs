using Everruns.Contracts;
using Everruns.Infrastructure;
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
        services.AddSingleton(ClusterOptions.From(configuration));
        services.AddSingleton<InstanceRegistry>();
        services.AddHostedService(sp => sp.GetRequiredService<InstanceRegistry>());
        services.AddSingleton<MetricsTimeline>();
        services.AddHostedService(sp => sp.GetRequiredService<MetricsTimeline>());
        services.AddSingularAgent<MaintenanceAgent>();
    }

    public IEnumerable<string> SchemaSql =>
    [
        """
        create table if not exists everruns_ops.instances (
            instance_id text primary key,
            node_id uuid not null,
            version text not null,
            started_at timestamptz not null,
            heartbeat_at timestamptz not null,
            stopped_at timestamptz
        );
        """,
        """
        create table if not exists everruns_ops.maintenance_runs (
            id bigint generated always as identity primary key,
            job text not null,
            instance_id text not null,
            started_at timestamptz not null,
            finished_at timestamptz not null,
            affected bigint not null,
            error text
        );
        create index if not exists ix_maintenance_runs_job on everruns_ops.maintenance_runs (job, started_at desc);
        """,
    ];

    public void MapEndpoints(IEndpointRouteBuilder endpoints)
    {
    }
}

/// <summary>Heartbeat and maintenance settings (README: configuration).</summary>
public sealed record ClusterOptions(
    TimeSpan Heartbeat,
    TimeSpan StaleAfter,
    TimeSpan MaintenanceInterval,
    TimeSpan TurnStaleAfter,
    TimeSpan SessionRetention,
    TimeSpan MetricsRetention,
    TimeSpan MetricsSample,
    int MetricsSamples)
{
    public static ClusterOptions From(IConfiguration configuration) => new(
        Settings.Seconds(configuration, "NODE_HEALTH_CHECK_SECS", 10),
        Settings.Seconds(configuration, "NODE_STALE_SECS", 60),
        Settings.Seconds(configuration, "MAINTENANCE_INTERVAL_SECS", 60),
        Settings.Seconds(configuration, "TURN_STALE_SECS", 600),
        TimeSpan.FromDays(Settings.Positive(configuration, "SESSION_RETENTION_DAYS", 30)),
        TimeSpan.FromDays(Settings.Positive(configuration, "METRICS_RETENTION_DAYS", 7)),
        Settings.Seconds(configuration, "METRICS_SAMPLE_SECS", 10),
        (int)Settings.Positive(configuration, "METRICS_SAMPLES", 360));
}
