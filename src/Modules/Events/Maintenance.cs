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
/// The events table has no index on its timestamp (Marten owns it, and one more index on every append is not worth a
/// once-a-minute job), so the recount is bounded by its primary key instead: each run marks the newest event's
/// sequence number with the database's time (<c>everruns_ops.event_rollup_marks</c>, kept two days). An event stamped
/// at or after the recount's start was appended after any mark taken five minutes before that (node clocks within five
/// minutes of the database's), so the recount reads only the events after that mark: not the whole table, every minute.
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
            ), floor as (
                select coalesce((select m.seq_id from everruns_ops.event_rollup_marks m
                                 where m.taken_at <= b.since - interval '5 minutes'
                                 order by m.taken_at desc limit 1), 0) as seq_id
                from bounds b
            ), upserted as (
                insert into everruns_ops.event_counts_minutely (minute, event_type, count)
                select date_trunc('minute', e.timestamp), e.type, count(*)
                from everruns.mt_events e, bounds b, floor f
                where e.seq_id > f.seq_id and e.timestamp >= b.since and e.timestamp < b.until
                group by 1, 2
                on conflict (minute, event_type) do update set count = excluded.count
                returning 1
            ), marked as (
                insert into everruns_ops.event_rollup_marks (taken_at, seq_id)
                select now(), coalesce(max(seq_id), 0) from everruns.mt_events
                on conflict (taken_at) do nothing
                returning 1
            ), pruned as (
                delete from everruns_ops.event_counts_minutely where minute < now() - @retention returning 1
            ), pruned_marks as (
                delete from everruns_ops.event_rollup_marks where taken_at < now() - interval '2 days' returning 1
            )
            select (select count(*) from upserted) + (select count(*) from pruned)
            """);
        cmd.Parameters.AddWithValue("retention", rollUp.Retention);
        return new MaintenanceDone((long)(await cmd.ExecuteScalarAsync(ct))!);
    }
}
