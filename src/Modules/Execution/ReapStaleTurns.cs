using Everruns.Contracts;
using Marten;
using Npgsql;
using Wolverine;

namespace Everruns.Modules.Execution;

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
        await using var cmd = dataSource.CreateCommand("""
            delete from everruns.turn_heartbeats h where h.beat_at < now() - @stale
                and not exists (select 1 from everruns.mt_doc_sessionturns d where d.id = h.session_id
                                and d.data->'active'->>'turn_id' = h.turn_id);
            select d.id, d.data->'active'->>'turn_id', d.tenant_id
            from everruns.mt_doc_sessionturns d
            left join everruns.turn_heartbeats h on h.session_id = d.id and h.turn_id = d.data->'active'->>'turn_id'
            where jsonb_typeof(d.data->'active') = 'object'
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
        documents.DeleteWhere<StoredValue>(v => v.SessionId == purged.SessionId);
        await using var cmd = dataSource.CreateCommand("delete from everruns.turn_heartbeats where session_id = @s");
        cmd.Parameters.AddWithValue("s", purged.SessionId);
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
