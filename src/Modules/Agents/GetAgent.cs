using Everruns.Contracts;
using Everruns.Infrastructure;
using Marten;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Wolverine.Http;

namespace Everruns.Modules.Agents;

public static class GetAgentEndpoint
{
    [WolverineGet("/v1/agents/{id}"), ProducesResponseType<AgentResponse>(StatusCodes.Status200OK)]
    public static async Task<IResult> Get(string id, IQuerySession session, HttpRequest http)
    {
        if (AgentRules.Id(id) is { } invalid) return Problems.Result(invalid);
        var agent = await AgentLookup.Find(session, id);
        return agent is null ? Problems.Result(AgentLookup.NotFound(id)) : Results.Ok(AgentResponse.From(agent, http));
    }

    /// <summary>The agent's sessions by status, their turns, tokens and cost (<paramref name="id"/>: its id or its name).</summary>
    [WolverineGet("/v1/agents/{id}/stats"), ProducesResponseType<ResourceStats>(StatusCodes.Status200OK)]
    public static async Task<IResult> Stats(string id, IQuerySession session, ISessionStats stats, HttpRequest http)
    {
        var agent = await AgentLookup.FindByIdOrNameAsync(session, id, http.HttpContext.RequestAborted);
        return agent is null
            ? Problems.Result(AgentLookup.NotFound(id))
            : Results.Ok(await stats.OfAsync(http.Caller().Org, agent.Id, http.HttpContext.RequestAborted));
    }
}

public static class AgentLookup
{
    /// <summary>The agent with this id in the org of <paramref name="session"/> (another org's is not found), or null.</summary>
    public static Task<Agent?> Find(IQuerySession session, string id) => session.LoadAsync<Agent>(id);

    /// <summary>The agent with this id, or else this name, in the org of <paramref name="session"/>; null when there is none.</summary>
    public static async Task<Agent?> FindByIdOrNameAsync(IQuerySession session, string idOrName, CancellationToken ct = default) =>
        Ids.IsValid(idOrName, Ids.Agent)
            ? await session.LoadAsync<Agent>(idOrName, ct)
            : await session.Query<Agent>().FirstOrDefaultAsync(a => a.Name == idOrName, ct);

    public static Microsoft.AspNetCore.Mvc.ProblemDetails NotFound(string id) =>
        Problems.NotFound("agent_not_found", $"agent {id} not found");
}
