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
