using Everruns.Contracts;
using Marten;

namespace Everruns.Modules.Execution;

/// <summary>For Sessions: what sessions are doing, from their turn states (one read for all of them).</summary>
public sealed class SessionActivities(IDocumentStore store) : ISessionActivities
{
    public async Task<IReadOnlyDictionary<string, SessionActivity>> OfAsync(string orgId, IReadOnlyList<string> sessionIds, CancellationToken ct = default)
    {
        if (sessionIds.Count == 0) return new Dictionary<string, SessionActivity>();
        await using var documents = store.QuerySession(orgId);
        var states = await documents.LoadManyAsync<SessionTurns>(ct, sessionIds.Distinct());
        return states.Where(s => s.Activity is not null).ToDictionary(s => s.Id, s =>
        {
            var a = s.Activity!;
            var status = s.Active switch
            {
                null => SessionStatuses.Idle,
                { Phase: TurnPhase.WaitingForToolResults } => SessionStatuses.WaitingForToolResults,
                _ => SessionStatuses.Active,
            };
            return new SessionActivity(status, a.At, a.StartedAt,
                a.FinishedAt, a.Preview, a.OutputPreview, s.Totals?.Turns ?? 0, s.Totals?.Usage, s.Totals?.LastTurnAt);
        });
    }
}
