using Everruns.Contracts;
using Npgsql;

namespace Everruns.Modules.Events;

/// <summary>A purged session's event stream is deleted with it.</summary>
public static class PurgeEventStreamHandler
{
    public static async Task Handle(SessionPurged purged, NpgsqlDataSource dataSource, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand("""
            delete from everruns.mt_events where stream_id = @s;
            delete from everruns.mt_streams where id = @s;
            """);
        cmd.Parameters.AddWithValue("s", purged.SessionId);
        await cmd.ExecuteNonQueryAsync(ct);
    }
}

/// <summary>
/// Maintenance job <c>roll_up_metrics</c>: counts of session events per minute and type (turns started, completed,
/// failed, messages...) in <c>everruns_ops.event_counts_minutely</c>, recounted from the last rolled-up minute (at
/// most a day back) to now, so the current minute's row grows as it goes; rows older than METRICS_RETENTION_DAYS
/// are dropped.
/// </summary>
public static class RollUpMetricsHandler
{
    public static async Task<MaintenanceDone> Handle(RollUpMetrics rollUp, NpgsqlDataSource dataSource, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand("""
            with bounds as (
                select greatest(coalesce(max(minute), '-infinity'::timestamptz), now() - interval '1 day') as since,
                       now() as until
                from everruns_ops.event_counts_minutely
            ), upserted as (
                insert into everruns_ops.event_counts_minutely (minute, event_type, count)
                select date_trunc('minute', e.timestamp), e.data->>'type', count(*)
                from everruns.mt_events e, bounds b
                where e.timestamp >= b.since and e.timestamp < b.until
                group by 1, 2
                on conflict (minute, event_type) do update set count = excluded.count
                returning 1
            ), pruned as (
                delete from everruns_ops.event_counts_minutely where minute < now() - @retention returning 1
            )
            select (select count(*) from upserted) + (select count(*) from pruned)
            """);
        cmd.Parameters.AddWithValue("retention", rollUp.Retention);
        return new MaintenanceDone((long)(await cmd.ExecuteScalarAsync(ct))!);
    }
}
