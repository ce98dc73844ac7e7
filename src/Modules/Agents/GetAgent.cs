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
}

public static class AgentLookup
{
    /// <summary>The agent with this id in the org of <paramref name="session"/> (another org's is not found), or null.</summary>
    public static Task<Agent?> Find(IQuerySession session, string id) => session.LoadAsync<Agent>(id);

    public static Microsoft.AspNetCore.Mvc.ProblemDetails NotFound(string id) =>
        Problems.NotFound("agent_not_found", $"agent {id} not found");
}
