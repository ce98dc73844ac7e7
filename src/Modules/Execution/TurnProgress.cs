using Everruns.Contracts;
using Everruns.Infrastructure;
using Marten;

namespace Everruns.Modules.Execution;

/// <summary>
/// Appends progress events (<c>output.message.started</c>, <c>output.message.delta</c>, <c>tool.started</c>) in
/// their own small transactions while a slow step runs, so that SSE clients see the answer as it streams.
/// They are progress, not state: the step's outcome (the completed message, the tool results and what
/// comes next) is committed by the Finish step in one transaction with its outgoing messages.
/// </summary>
public sealed class TurnProgress(IDocumentStore store)
{
    /// <summary>
    /// Appends the event (in the turn's context: its id and input message) if the turn is still the session's active
    /// one, checked under the session's write lock, so that no progress lands after the turn ended (a cancel commits
    /// under the same lock); otherwise throws <see cref="TurnEndedException"/> and the step stops.
    /// </summary>
    public Task AppendAsync(string orgId, string sessionId, EventContext turn, ISessionEventData data, CancellationToken ct) =>
        AppendAsync(orgId, sessionId, turn, [data], ct);

    /// <summary>Appends the events in one transaction, on the same terms (in the session's org: its tenant).</summary>
    public async Task AppendAsync(string orgId, string sessionId, EventContext turn, IReadOnlyList<ISessionEventData> events, CancellationToken ct)
    {
        await using var session = store.LightweightSession(orgId);
        var state = await Turns.LoadLockedAsync(session, sessionId, ct);
        if (state?.Active?.TurnId != turn.TurnId) throw new TurnEndedException(turn.TurnId!);
        foreach (var e in events) session.AppendSessionEvent(sessionId, e, turn);

        await session.SaveChangesAsync(ct);
    }

    /// <summary>Whether the turn is still the session's active one (a cancel ends it from any instance).</summary>
    public async Task<bool> IsActiveAsync(string orgId, string sessionId, string turnId, CancellationToken ct)
    {
        await using var session = store.QuerySession(orgId);
        var state = await session.LoadAsync<SessionTurns>(sessionId, ct);
        return state?.Active?.TurnId == turnId;
    }
}

/// <summary>The turn a step works for is no longer active (cancelled, or ended by the reaper): the step stops.</summary>
public sealed class TurnEndedException(string turnId) : Exception($"turn {turnId} is no longer active");
