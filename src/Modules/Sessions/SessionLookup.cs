using Everruns.Contracts;
using Everruns.Infrastructure;
using Marten;
using Microsoft.AspNetCore.Mvc;

namespace Everruns.Modules.Sessions;

public static class SessionLookup
{
    public static ProblemDetails? Id(string id) => InputRules.SessionId(id);

    /// <summary>The live (not deleted) session with this id in the caller's org, or null.</summary>
    public static async Task<Session?> InOrg(IQuerySession session, string orgId, string id)
    {
        var found = await session.LoadAsync<Session>(id);
        return found is not null && found.OrgId == orgId && found.DeletedAt is null ? found : null;
    }

    public static ProblemDetails NotFound(string id) => Problems.NotFound("session_not_found", $"session {id} not found");
}
