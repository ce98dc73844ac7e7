using Everruns.Contracts;
using Marten;

namespace Everruns.Modules.Sessions;

/// <summary>Answers other modules' questions about sessions.</summary>
public static class SessionQueriesHandler
{
    private static readonly SessionFound NotFound = new(null);

    public static async Task<SessionFound> Handle(FindSession query, IDocumentStore store, SessionCache cache, CancellationToken ct)
    {
        var found = await LiveAsync(query.SessionId, store, cache, ct);
        return found.Session?.OrgId == query.OrgId ? found : NotFound;
    }

    public static async Task<SessionRuntimeFound> Handle(GetSessionRuntime query, IDocumentStore store, SessionCache cache, CancellationToken ct) =>
        new((await LiveAsync(query.SessionId, store, cache, ct)).Runtime);

    /// <summary>The live session with this id in any org, from the instance's cache or else read (and cached).</summary>
    private static async Task<SessionFound> LiveAsync(string id, IDocumentStore store, SessionCache cache, CancellationToken ct)
    {
        if (cache.Get(id) is { } cached) return cached;
        var evictions = cache.Evictions;
        await using var documents = store.QuerySession();
        var session = await documents.LoadAsync<Session>(id, ct);
        if (session is null || session.DeletedAt is not null) return NotFound;
        var found = new SessionFound(new SessionRef(session.Id, session.OrgId), Runtime(session));
        cache.Put(id, found, evictions);
        return found;
    }

    private static SessionRuntime Runtime(Session session) =>
        new(session.Id, session.OrgId, session.AgentId, session.SystemPrompt ?? "", session.ModelId,
            session.MaxIterations ?? SessionRuntime.DefaultMaxIterations, session.Capabilities);
}

/// <summary>
/// The status changes of earlier builds' turns (during a rolling upgrade): stores the session's status, previews and
/// timestamps, which responses show until a turn of this build reports newer ones (<see cref="SessionResponse.From"/>).
/// The preview is the input of its first turn (its first message). Changes come in batches (see <see cref="SessionsModule.ConfigureWolverine"/>), are handled
/// in parallel and may arrive out of order (the idle of one turn after the start of the next): one older than the
/// status it would replace only fills what is still missing.
/// </summary>
public static class SessionActivityHandler
{
    public static async Task Handle(SessionActivityChanged[] changes, IDocumentSession documents, CancellationToken ct)
    {
        // Every writer of a session document takes the session's write lock: no lost updates between handlers.
        var ids = changes.Select(c => c.SessionId).Distinct().ToArray();
        var batch = await SessionStream.LockedBatchAsync(documents, ids, ct); // the locks and the loads in one round trip
        var loading = batch.LoadMany<Session>().ById(ids);
        await batch.Execute(ct);
        var sessions = (await loading).ToDictionary(s => s.Id);
        foreach (var changed in changes.OrderBy(c => c.At))
        {
            if (!sessions.TryGetValue(changed.SessionId, out var session)) continue; // purged meanwhile
            Apply(session, changed);
        }

        foreach (var session in sessions.Values) documents.Store(session);
    }

    private static void Apply(Session session, SessionActivityChanged changed)
    {
        if (changed.InputPreview is not null) session.Preview ??= Previews.Of(changed.InputPreview);
        if (session.StatusAt is null || changed.At >= session.StatusAt)
        {
            session.Status = changed.Status;
            session.StatusAt = changed.At;
            if (changed.Status == SessionStatuses.Active)
            {
                session.StartedAt ??= changed.At;
                session.FinishedAt = null;
            }
            else
            {
                session.FinishedAt = changed.At;
            }

            if (changed.OutputPreview is not null) session.OutputPreview = Previews.Of(changed.OutputPreview);
        }

        session.UpdatedAt = changed.At > session.UpdatedAt ? changed.At : session.UpdatedAt;
    }

}
