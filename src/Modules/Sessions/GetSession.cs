using Everruns.Contracts;
using Everruns.Infrastructure;
using Marten;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Wolverine.Http;

namespace Everruns.Modules.Sessions;

public static class GetSessionEndpoint
{
    [WolverineGet("/v1/sessions/{id}"), ProducesResponseType<SessionResponse>(StatusCodes.Status200OK)]
    public static async Task<IResult> Get(string id, IQuerySession documents, ISessionActivities activities, HttpRequest http)
    {
        if (SessionLookup.Id(id) is { } invalid) return Problems.Result(invalid);
        var session = await SessionLookup.Live(documents, id);
        return session is null
            ? Problems.Result(SessionLookup.NotFound(id))
            : Results.Ok(await SessionResponse.WithActivity(session, activities, http, documents));
    }
}
