using Everruns.Contracts;
using Marten;
using Marten.Patching;

namespace Everruns.Modules.Agents;

/// <summary>Answers other modules' questions about agents and keeps their session counts.</summary>
public static class AgentQueriesHandler
{
    public static async Task<AgentFound> Handle(FindAgent query, IQuerySession documents)
    {
        var agent = query.AgentId is not null
            ? await AgentLookup.InOrg(documents, query.OrgId, query.AgentId)
            : await documents.Query<Agent>().FirstOrDefaultAsync(a => a.OrgId == query.OrgId && a.Name == query.AgentName);
        if (agent is null || agent.OrgId != query.OrgId) return new AgentFound(null);
        return new AgentFound(new AgentSnapshot(agent.Id, agent.Name, agent.SystemPrompt, agent.DefaultModelId,
            agent.MaxIterations, agent.Capabilities, agent.Status));
    }

    public static void Handle(SessionOpened opened, IDocumentSession documents)
    {
        // An atomic increment in SQL: sessions opened at once on several instances all count.
        if (opened.AgentId is not null) documents.Patch<Agent>(opened.AgentId).Increment(a => a.SessionCount);
    }
}
