using Everruns.Host.Configuration;
using Npgsql;

namespace Everruns.Host.Health;

/// <summary>
/// Whether this instance should receive traffic: migrations done, not shutting down, database answering.
/// The database probe uses its own tiny pool with a short timeout so that a saturated main pool or a dead
/// server cannot hang the load balancer's check.
/// </summary>
public sealed class Readiness : IDisposable
{
    private readonly NpgsqlDataSource _probe;
    private volatile bool _migrated;
    private volatile bool _stopping;

    public Readiness(EverrunsOptions options, IHostApplicationLifetime lifetime)
    {
        var builder = Configuration.DatabaseUrl.Parse(options.DatabaseUrl);
        builder.ApplicationName = options.ApplicationName + "-probe";
        builder.MaxPoolSize = 2;
        builder.MinPoolSize = 0;
        builder.Timeout = 2;
        builder.CommandTimeout = 2;
        _probe = NpgsqlDataSource.Create(builder);
        lifetime.ApplicationStopping.Register(() => _stopping = true);
    }

    public void MigrationsCompleted() => _migrated = true;

    public async Task<ReadinessReport> CheckAsync(CancellationToken ct)
    {
        if (_stopping) return ReadinessReport.NotReady("shutting_down", "the instance is shutting down");
        if (!_migrated) return ReadinessReport.NotReady("migrations_pending", "schema migrations have not completed");

        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(3));
            await using var cmd = _probe.CreateCommand("select 1");
            await cmd.ExecuteScalarAsync(timeout.Token);
            return ReadinessReport.Ready;
        }
        catch (Exception e) when (e is NpgsqlException or OperationCanceledException or TimeoutException or InvalidOperationException)
        {
            // A broken connection must not stay in the probe pool after the database comes back.
            NpgsqlConnection.ClearAllPools();
            return ReadinessReport.NotReady("database_unreachable", e.Message);
        }
    }

    public void Dispose() => _probe.Dispose();
}

public sealed record ReadinessReport(bool IsReady, string Status, string? Reason, string? Detail)
{
    public static readonly ReadinessReport Ready = new(true, "ready", null, null);
    public static ReadinessReport NotReady(string reason, string detail) => new(false, "unavailable", reason, detail);
}
