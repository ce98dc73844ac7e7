using Everruns.Contracts;
using Everruns.Infrastructure;
using Marten;
using Marten.Linq;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Wolverine.Http;

namespace Everruns.Modules.Sessions;

/// <summary>
/// GET /v1/sessions?agent_id=&amp;search=&amp;pinned=&amp;offset=&amp;limit= — newest first (<c>pinned</c>: only those the caller pinned, or not), in the SDK's list envelope. The
/// page is also under <c>sessions</c>, the key the TypeScript SDK reads.
/// </summary>
public static class ListSessionsEndpoint
{
    [WolverineGet("/v1/sessions"), ProducesResponseType<Page<SessionResponse>>(StatusCodes.Status200OK)]
    public static async Task<IResult> Get(IQuerySession documents, ISessionActivities activities, HttpRequest http)
    {
        var (paging, pagingProblem) = Query.Paging(http);
        if (pagingProblem is not null) return Problems.Result(pagingProblem);
        var agentId = http.Query["agent_id"].ToString();
        if (agentId.Length > 0 && !Ids.IsValid(agentId, Ids.Agent))
            return Problems.Result(Problems.BadRequest("invalid_agent_id", $"'{agentId}' is not an agent id (agent_<32 hex>)"));
        var search = http.Query["search"].ToString();
        var (pinned, pinnedProblem) = Query.Bool(http, "pinned");
        if (pinnedProblem is not null) return Problems.Result(pinnedProblem);
        var user = http.Caller().UserId;

        var org = http.Caller().Org;
        IQueryable<Session> query = documents.Query<Session>().Where(s => s.DeletedAt == null);
        if (agentId.Length > 0) query = query.Where(s => s.AgentId == agentId);
        if (!string.IsNullOrWhiteSpace(search))
            query = query.Where(s => s.Title != null && s.Title.Contains(search, StringComparison.OrdinalIgnoreCase));
        if (pinned is not null)
        {
            var pinnedIds = await Pins.AllAsync(documents, user, http.HttpContext.RequestAborted);
            query = pinned.Value ? query.Where(s => s.Id.IsOneOf(pinnedIds)) : query.Where(s => !s.Id.IsOneOf(pinnedIds));
        }

        var sessions = await ((IMartenQueryable<Session>)query).Stats(out var stats)
            .OrderByDescending(s => s.CreatedAt).ThenBy(s => s.Id)
            .Skip(paging.Offset).Take(paging.Limit).ToListAsync();
        var activity = await activities.OfAsync(http.Caller().Org, sessions.Select(s => s.Id).ToList(), http.HttpContext.RequestAborted);
        var pins = await Pins.OfAsync(documents, user, sessions.Select(s => s.Id).ToList(), http.HttpContext.RequestAborted);
        return Results.Ok(Page<SessionResponse>.Of(sessions.Select(s => SessionResponse.From(s, activity.GetValueOrDefault(s.Id), http)
                with { IsPinned = pins.Contains(s.Id) }).ToList(),
            (int)stats.TotalResults, paging, http).AlsoAs("sessions"));
    }
}
