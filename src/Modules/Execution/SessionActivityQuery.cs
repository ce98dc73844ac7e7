using Everruns.Contracts;
using Marten;

namespace Everruns.Modules.Execution;

/// <summary>Answers Sessions' question of what sessions are doing, from their turn states (one read for all of them).</summary>
public static class SessionActivityQueryHandler
{
    public static async Task<SessionActivities> Handle(GetSessionActivity query, IQuerySession documents, CancellationToken ct)
    {
        if (query.SessionIds.Count == 0) return new SessionActivities(new Dictionary<string, SessionActivity>());
        var states = await documents.LoadManyAsync<SessionTurns>(ct, query.SessionIds.Distinct());
        return new SessionActivities(states.Where(s => s.Activity is not null).ToDictionary(s => s.Id, s =>
        {
            var a = s.Activity!;
            return new SessionActivity(s.Active is null ? SessionStatuses.Idle : SessionStatuses.Active, a.At, a.StartedAt,
                a.FinishedAt, a.Preview, a.OutputPreview);
        }));
    }
}
