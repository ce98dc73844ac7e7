using Everruns.Contracts;
using Marten;
using Microsoft.AspNetCore.Http;
using Wolverine.Http;

namespace Everruns.Modules.Agents;

/// <summary>DELETE /v1/agents/{id} archives: the agent leaves listings, keeps its history, and 204 is returned.</summary>
public static class ArchiveAgentEndpoint
{
    [WolverineDelete("/v1/agents/{id}")]
    public static async Task<IResult> Delete(string id, IDocumentSession session)
    {
        if (AgentRules.Id(id) is { } invalid) return Problems.Result(invalid);
        var agent = await AgentLookup.InOrg(session, id);
        if (agent is null) return Problems.Result(AgentLookup.NotFound(id));
        if (agent.Status != AgentStatus.Archived)
        {
            agent.Status = AgentStatus.Archived;
            agent.ArchivedAt = agent.UpdatedAt = DateTimeOffset.UtcNow;
            session.Store(agent);
        }

        return Results.NoContent();
    }
}
