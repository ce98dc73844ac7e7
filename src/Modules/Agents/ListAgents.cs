using Everruns.Infrastructure;
using Marten;
using Marten.Linq;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Wolverine.Http;

namespace Everruns.Modules.Agents;

/// <summary>GET /v1/agents?search=&amp;include_archived=&amp;offset=&amp;limit= — newest first; the page is also under <c>agents</c>.</summary>
public static class ListAgentsEndpoint
{
    [WolverineGet("/v1/agents"), ProducesResponseType<Page<AgentResponse>>(StatusCodes.Status200OK)]
    public static async Task<IResult> Get(IQuerySession session, HttpRequest http)
    {
        var (paging, pagingProblem) = Query.Paging(http);
        if (pagingProblem is not null) return Problems.Result(pagingProblem);
        var (includeArchived, archivedProblem) = Query.Bool(http, "include_archived");
        if (archivedProblem is not null) return Problems.Result(archivedProblem);
        var search = http.Query["search"].ToString();

        var org = http.Caller().Org;
        IQueryable<Agent> query = session.Query<Agent>();
        if (includeArchived != true) query = query.Where(a => a.Status == AgentStatus.Active);
        if (!string.IsNullOrWhiteSpace(search))
            query = query.Where(a => a.Name.Contains(search, StringComparison.OrdinalIgnoreCase)
                                     || (a.DisplayName != null && a.DisplayName.Contains(search, StringComparison.OrdinalIgnoreCase))
                                     || (a.Description != null && a.Description.Contains(search, StringComparison.OrdinalIgnoreCase)));

        var agents = await ((IMartenQueryable<Agent>)query).Stats(out var stats)
            .OrderByDescending(a => a.CreatedAt).ThenBy(a => a.Id)
            .Skip(paging.Offset).Take(paging.Limit).ToListAsync();

        return Results.Ok(Page<AgentResponse>.Of(agents.Select(a => AgentResponse.From(a, http)).ToList(),
            (int)stats.TotalResults, paging, http).AlsoAs("agents"));
    }
}
