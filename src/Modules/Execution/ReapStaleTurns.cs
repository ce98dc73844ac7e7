using Everruns.Contracts;
using Marten;
using Npgsql;
using Wolverine;

namespace Everruns.Modules.Execution;

/// <summary>
/// <c>everruns.active_turns</c>: a row per session with a turn running, inserted when the turn starts and deleted when it
/// ends, in the same transaction as the turn state. <c>reap_stale_turns</c> reads it instead of every session's turn state
/// (a JSON index of the active turn would make every step's state write a non-heap-only update).
/// </summary>
public static class ActiveTurns
{
    private static long _backfilledAt;

    /// <summary>How often the runner enters turns missing from the table (started by an instance of an older version during a rolling upgrade).</summary>
    public static readonly TimeSpan BackfillEvery = TimeSpan.FromHours(1);

    public static void Started(IDocumentSession documents, string sessionId, string turnId) =>
        documents.QueueSqlCommand("""
            insert into everruns.active_turns (session_id, turn_id, tenant_id, started_at) values (?, ?, ?, now())
            on conflict (session_id) do update set turn_id = excluded.turn_id, tenant_id = excluded.tenant_id, started_at = excluded.started_at
            """, sessionId, turnId, documents.TenantId);

    public static void Ended(IDocumentSession documents, string sessionId, string turnId) =>
        documents.QueueSqlCommand("delete from everruns.active_turns where session_id = ? and turn_id = ?", sessionId, turnId);

    /// <summary>
    /// At the runner's first run, then hourly: running turns missing from the table (started before it existed, or by an
    /// instance of an older version during a rolling upgrade) are entered in it. This reads every turn state, but once an
    /// hour instead of every minute; idempotent, so two runners at once (a hand-over) do no harm.
    /// </summary>
    public static async Task BackfillAsync(NpgsqlDataSource dataSource, CancellationToken ct)
    {
        var now = Environment.TickCount64;
        var last = Interlocked.Read(ref _backfilledAt);
        if (last != 0 && now - last < (long)BackfillEvery.TotalMilliseconds) return;
        await using var cmd = dataSource.CreateCommand("""
            insert into everruns.active_turns (session_id, turn_id, tenant_id, started_at)
            select d.id, d.data->'active'->>'turn_id', d.tenant_id, coalesce((d.data->'active'->>'started_at')::timestamptz, now())
            from everruns.mt_doc_sessionturns d
            where jsonb_typeof(d.data->'active') = 'object'
            on conflict (session_id) do nothing
            """);
        await cmd.ExecuteNonQueryAsync(ct);
        Interlocked.Exchange(ref _backfilledAt, Math.Max(1, now));
    }
}

/// <summary>Ends one turn that stopped making progress (see <see cref="ReapStaleTurnsHandler"/>).</summary>
public sealed record AbandonTurn(string SessionId, string TurnId, TimeSpan StaleAfter) : ITurnWork;

/// <summary>
/// Maintenance job <c>reap_stale_turns</c>: finds active turns whose last sign of progress is older than
/// TURN_STALE_SECS (their latest heartbeat, or move to their next step, or else their start) and abandons each in its
/// own transaction; also forgets heartbeats of turns long gone. A step shorter than TURN_HEARTBEAT_SECS writes no
/// heartbeat, so a turn of many short steps makes progress only through its steps. A turn whose step is still queued
/// on a live node keeps beating once it runs, so only turns nobody works on any more are failed.
/// </summary>
public static class ReapStaleTurnsHandler
{
    public static async Task<(MaintenanceDone, OutgoingMessages)> Handle(ReapStaleTurns reap, NpgsqlDataSource dataSource,
        CancellationToken ct)
    {
        await ActiveTurns.BackfillAsync(dataSource, ct);
        // Only the sessions with a turn running (everruns.active_turns, a handful), each joined to its turn state by key:
        // the step writes of the turn state stay heap-only, and a million idle sessions cost nothing here.
        await using var cmd = dataSource.CreateCommand("""
            delete from everruns.turn_heartbeats h where h.beat_at < now() - @stale
                and not exists (select 1 from everruns.active_turns a where a.session_id = h.session_id and a.turn_id = h.turn_id);
            -- A row whose turn ended without its delete (written before this table existed, or by hand) goes once stale.
            delete from everruns.active_turns a where a.started_at < now() - @stale
                and not exists (select 1 from everruns.mt_doc_sessionturns d where d.tenant_id = a.tenant_id and d.id = a.session_id
                                and d.data->'active'->>'turn_id' = a.turn_id);
            select d.id, d.data->'active'->>'turn_id', d.tenant_id
            from everruns.active_turns a
            -- By the turn state's primary key (tenant, id): the row was written by the same session that stored the state.
            join everruns.mt_doc_sessionturns d on d.tenant_id = a.tenant_id and d.id = a.session_id
            left join everruns.turn_heartbeats h on h.session_id = d.id and h.turn_id = d.data->'active'->>'turn_id'
            where a.started_at < now() - @stale -- progress is never older than the start
              and d.data->'active'->>'turn_id' = a.turn_id
              -- waits, not work: a client's (expire_tool_waits ends them) and a paused budget's (resumed through the API)
              and coalesce(d.data->'active'->>'phase', '') not in ('WaitingForToolResults', 'PausedForBudget')
              and greatest(h.beat_at, coalesce((d.data->'active'->>'stepped_at')::timestamptz,
                                                (d.data->'active'->>'started_at')::timestamptz)) < now() - @stale
            limit 500
            """);
        cmd.Parameters.AddWithValue("stale", reap.StaleAfter);
        var next = new OutgoingMessages();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
            next.Add(new AbandonTurn(reader.GetString(0), reader.GetString(1), reap.StaleAfter)
                .WithDeliveryOptions(new DeliveryOptions { TenantId = reader.GetString(2) })); // the session's org
        return (new MaintenanceDone(next.Count), next);
    }
}

public static class AbandonTurnHandler
{
    public static async Task<OutgoingMessages> Handle(AbandonTurn abandon, IDocumentSession documents, CancellationToken ct)
    {
        var next = new OutgoingMessages();
        await Turns.FailIfActiveAsync(documents, abandon.SessionId, abandon.TurnId,
            $"The turn stopped making progress for {abandon.StaleAfter.TotalSeconds:0} s and was abandoned.", "turn_lost", next, ct: ct);
        return next;
    }
}

/// <summary>A purged session's turn state and heartbeat go with it.</summary>
public static class PurgeTurnStateHandler
{
    public static async Task Handle(SessionPurged purged, IDocumentSession documents, NpgsqlDataSource dataSource,
        ConversationCache conversations, CancellationToken ct)
    {
        conversations.Remove(purged.SessionId); // here; other instances drop it when their cache is full
        documents.Delete<SessionTurns>(purged.SessionId);
        documents.QueueSqlCommand("delete from everruns.active_turns where session_id = ?", purged.SessionId);
        documents.DeleteWhere<StoredValue>(v => v.SessionId == purged.SessionId);
        await using var cmd = dataSource.CreateCommand("delete from everruns.turn_heartbeats where session_id = @s");
        cmd.Parameters.AddWithValue("s", purged.SessionId);
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
