using System.Diagnostics;
using Everruns.Contracts;
using Everruns.Host.Configuration;
using Everruns.Host.Health;
using Everruns.Modules.Cluster;
using Npgsql;

namespace Everruns.Host.Operations;

/// <summary>What operators read about this instance and its database: used by /status, the admin endpoints and bundles.</summary>
public sealed class SystemProbe(NpgsqlDataSource dataSource, EverrunsOptions options, Readiness readiness, ClusterOptions cluster,
    InstanceIdentity identity)
{
    public async Task<(bool Ok, double LatencyMs, string? Error)> PingAsync(CancellationToken ct)
    {
        var watch = Stopwatch.StartNew();
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(3));
            await using var cmd = dataSource.CreateCommand("select 1");
            await cmd.ExecuteScalarAsync(timeout.Token);
            return (true, Math.Round(watch.Elapsed.TotalMilliseconds, 2), null);
        }
        catch (Exception e) when (e is NpgsqlException or OperationCanceledException or TimeoutException)
        {
            return (false, Math.Round(watch.Elapsed.TotalMilliseconds, 2), e.Message);
        }
    }

    public async Task<Dictionary<string, object?>> HealthAsync(CancellationToken ct)
    {
        var (ok, latency, error) = await PingAsync(ct);
        var ready = await readiness.CheckAsync(ct);
        return new Dictionary<string, object?>
        {
            ["instance_id"] = identity.InstanceId,
            ["version"] = BuildInfo.Version,
            ["ready"] = ready.IsReady,
            ["readiness_reason"] = ready.Reason,
            ["database"] = new { ok, latency_ms = latency, error },
            ["pool"] = await PoolAsync(ct),
            ["memory"] = Memory(),
            ["durable"] = ok ? await DurableAsync(ct) : null,
            ["nodes"] = ok ? await DurableEndpoints.ReadWorkersAsync(dataSource, cluster, identity, ct) : null,
        };
    }

    /// <summary>This instance's connections as the server sees them (by application name), against the pool's size.</summary>
    public async Task<object?> PoolAsync(CancellationToken ct)
    {
        try
        {
            await using var cmd = dataSource.CreateCommand("""
                select count(*) filter (where state = 'active'), count(*) filter (where state like 'idle%'), count(*)
                from pg_stat_activity where application_name = @app
                """);
            cmd.Parameters.AddWithValue("app", options.ApplicationName);
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            await reader.ReadAsync(ct);
            return new { max = options.DatabasePoolMax, busy = reader.GetInt64(0), idle = reader.GetInt64(1), open = reader.GetInt64(2) };
        }
        catch (NpgsqlException)
        {
            return null;
        }
    }

    public static object Memory()
    {
        var gc = GC.GetGCMemoryInfo();
        using var process = Process.GetCurrentProcess();
        return new
        {
            working_set_bytes = process.WorkingSet64,
            managed_heap_bytes = GC.GetTotalMemory(false),
            gc_committed_bytes = gc.TotalCommittedBytes,
            gc_collections = new[] { GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2) },
        };
    }

    /// <summary>
    /// Durable queue depths from Wolverine's inbox/outbox tables, and how long the oldest message waiting in the inbox has
    /// been claimed: near INBOX_STALE_SECS, a step is stranded (queued or running ones renew their claim every third of it).
    /// </summary>
    public async Task<object> DurableAsync(CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand("""
            select 'incoming:' || coalesce(received_at, '?') || ':' || status, count(*) from wolverine.wolverine_incoming_envelopes group by 1
            union all select 'incoming_oldest_claim_age_secs', coalesce(extract(epoch from now() - min("timestamp")), 0)::bigint
                from wolverine.wolverine_incoming_envelopes where status = 'Incoming'
            union all select 'outgoing:' || coalesce(destination, '?'), count(*) from wolverine.wolverine_outgoing_envelopes group by 1
            union all select 'dead_letters', count(*) from wolverine.wolverine_dead_letters
            """);
        var depths = new SortedDictionary<string, long>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct)) depths[reader.GetString(0)] = reader.GetInt64(1);
        return depths;
    }

    public async Task<object> DatabaseAsync(CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand("""
            select current_setting('server_version'), pg_database_size(current_database()), current_setting('max_connections')::int,
                   (select count(*) from everruns_ops.schema_migrations),
                   (select max(applied_at) from everruns_ops.schema_migrations),
                   (select version from everruns_ops.schema_migrations order by id desc limit 1)
            """);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        return new
        {
            server_version = reader.GetString(0),
            size_bytes = reader.GetInt64(1),
            max_connections = reader.GetInt32(2),
            migrations_applied = reader.GetInt64(3),
            last_migration_at = reader.IsDBNull(4) ? (DateTime?)null : reader.GetDateTime(4),
            last_migration_version = reader.IsDBNull(5) ? null : reader.GetString(5),
        };
    }
}
