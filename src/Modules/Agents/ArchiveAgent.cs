using Everruns.Contracts;
using Everruns.Infrastructure;
using Marten;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Wolverine;
using Wolverine.Http;

namespace Everruns.Modules.Agents;

/// <summary>DELETE /v1/agents/{id} archives: the agent leaves listings, keeps its history, and 204 is returned.</summary>
public static class ArchiveAgentEndpoint
{
    [WolverineDelete("/v1/agents/{id}"), ProducesResponseType(StatusCodes.Status204NoContent)]
    public static async Task<IResult> Delete(string id, IDocumentSession session, IMessageBus bus, HttpContext http)
    {
        if (AgentRules.Id(id) is { } invalid) return Problems.Result(invalid);
        var caller = http.Caller();
        var agent = await AgentLookup.Find(session, id);
        if (agent is null) return Problems.Result(AgentLookup.NotFound(id));
        if (agent.Status != AgentStatus.Archived)
        {
            agent.Status = AgentStatus.Archived;
            agent.ArchivedAt = agent.UpdatedAt = DateTimeOffset.UtcNow;
            session.Store(agent);
            // Outboxed: the audit entry commits with the archive.
            await bus.PublishAsync(new AuditAction(caller.Org, caller.Actor, "agent.deleted", agent.Id,
                new Dictionary<string, string> { ["name"] = agent.Name }));
        }

        return Results.NoContent();
    }
}
