using Everruns.Contracts;
using Marten;

namespace Everruns.Modules.Sessions;

/// <summary>What other modules read of sessions, from this instance's cache or else the store (then cached).</summary>
public sealed class SessionDirectory(IDocumentStore store, SessionCache cache) : ISessionDirectory
{
    private static readonly SessionFound NotFound = new(null);

    public async Task<SessionFound> FindAsync(string orgId, string sessionId, CancellationToken ct = default)
    {
        var found = await LiveAsync(sessionId, orgId, ct);
        return found.Session?.OrgId == orgId ? found : NotFound;
    }

    public async Task<SessionRuntime?> RuntimeAsync(string sessionId, CancellationToken ct = default) =>
        (await LiveAsync(sessionId, null, ct)).Runtime;

    /// <summary>
    /// The live session with this id in the org (read in the org's documents only), or in whichever org has it when
    /// <paramref name="orgId"/> is null: a turn's step knows its session, and learns its org from it.
    /// </summary>
    private async Task<SessionFound> LiveAsync(string id, string? orgId, CancellationToken ct)
    {
        if (cache.Get(id) is { } cached) return cached;
        var evictions = cache.Evictions;
        Session? session;
        if (orgId is not null)
        {
            await using var documents = store.QuerySession(orgId);
            session = await documents.LoadAsync<Session>(id, ct);
        }
        else
        {
            await using var documents = store.QuerySession();
            session = await documents.Query<Session>().Where(s => s.AnyTenant() && s.Id == id).FirstOrDefaultAsync(ct);
        }

        if (session is null || session.DeletedAt is not null) return NotFound;
        var found = new SessionFound(new SessionRef(session.Id, session.OrgId), Runtime(session));
        cache.Put(id, found, evictions);
        return found;
    }

    private static SessionRuntime Runtime(Session session) =>
        new(session.Id, session.OrgId, session.AgentId, HarnessSnapshot.Compose(session.HarnessPrompt, session.SystemPrompt), session.ModelId,
            session.MaxIterations ?? SessionRuntime.DefaultMaxIterations,
            session.AgentCapabilities.Concat(session.Capabilities).DistinctBy(c => c.Ref).ToList(),
            [.. session.AgentTools, .. session.Tools], session.ParallelToolCalls, session.WorkspaceId);
}
