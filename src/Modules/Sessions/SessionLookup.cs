using Everruns.Infrastructure;
using Marten;
using Microsoft.AspNetCore.Mvc;

namespace Everruns.Modules.Sessions;

public static class SessionLookup
{
    public static ProblemDetails? Id(string id) => InputRules.SessionId(id);

    /// <summary>The live (not deleted) session with this id in the org of <paramref name="session"/>, or null.</summary>
    public static async Task<Session?> Live(IQuerySession session, string id)
    {
        var found = await session.LoadAsync<Session>(id); // the session is the org's: another org's session is not found
        return found is not null && found.DeletedAt is null ? found : null;
    }

    public static ProblemDetails NotFound(string id) => Problems.NotFound("session_not_found", $"session {id} not found");
}
