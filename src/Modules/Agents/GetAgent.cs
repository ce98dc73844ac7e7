using Everruns.Contracts;
using Everruns.Infrastructure;
using Marten;
using Microsoft.AspNetCore.Http;
using Wolverine.Http;

namespace Everruns.Modules.Agents;

public static class GetAgentEndpoint
{
    [WolverineGet("/v1/agents/{id}")]
    public static async Task<IResult> Get(string id, IQuerySession session, HttpRequest http)
    {
        if (AgentRules.Id(id) is { } invalid) return Problems.Result(invalid);
        var agent = await AgentLookup.InOrg(session, http.Caller().Org, id);
        return agent is null ? Problems.Result(AgentLookup.NotFound(id)) : Results.Ok(AgentResponse.From(agent, http));
    }
}

public static class AgentLookup
{
    public static async Task<Agent?> InOrg(IQuerySession session, string orgId, string id)
    {
        var agent = await session.LoadAsync<Agent>(id);
        return agent?.OrgId == orgId ? agent : null;
    }

    public static Microsoft.AspNetCore.Mvc.ProblemDetails NotFound(string id) =>
        Problems.NotFound("agent_not_found", $"agent {id} not found");
}
