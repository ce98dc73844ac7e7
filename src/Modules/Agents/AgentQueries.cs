using Everruns.Contracts;
using Marten;
using Marten.Patching;

namespace Everruns.Modules.Agents;

/// <summary>What other modules read of agents.</summary>
public sealed class AgentDirectory(IDocumentStore store) : IAgentDirectory
{
    public async Task<AgentSnapshot?> FindAsync(string orgId, string? agentId, string? agentName, CancellationToken ct = default)
    {
        await using var documents = store.QuerySession(orgId);
        var agent = agentId is not null
            ? await AgentLookup.Find(documents, agentId)
            : await documents.Query<Agent>().FirstOrDefaultAsync(a => a.Name == agentName, ct);
        if (agent is null) return null;
        // Its default version, else its latest (the agent as it stands); an agent older than versions has neither.
        if ((agent.DefaultVersionId ?? agent.LatestVersionId) is { } versionId && await documents.LoadAsync<AgentVersion>(versionId, ct) is { } version)
            return version.ToSnapshot(agent);
        return new AgentSnapshot(agent.Id, agent.Name, agent.SystemPrompt, agent.DefaultModelId, agent.MaxIterations, agent.Capabilities,
            agent.Status, agent.Tools, agent.ParallelToolCalls, agent.InitialFiles, agent.HarnessId);
    }

    public async Task<AgentSnapshot?> VersionAsync(string orgId, string versionId, CancellationToken ct = default)
    {
        if (!Ids.IsValid(versionId, Ids.AgentVersion)) return null;
        await using var documents = store.QuerySession(orgId);
        var version = await documents.LoadAsync<AgentVersion>(versionId, ct);
        var agent = version is null ? null : await documents.LoadAsync<Agent>(version.AgentId, ct);
        return agent is null ? null : version!.ToSnapshot(agent);
    }

    public async Task<long> UsingHarnessAsync(string orgId, string harnessId, CancellationToken ct = default)
    {
        await using var documents = store.QuerySession(orgId);
        return await documents.Query<Agent>().CountAsync(a => a.HarnessId == harnessId && a.Status == AgentStatus.Active, ct);
    }
}

/// <summary>Keeps agents' session counts.</summary>
public static class AgentSessionCountHandler
{
    public static void Handle(SessionOpened opened, IDocumentSession documents)
    {
        // An atomic increment in SQL: sessions opened at once on several instances all count.
        if (opened.AgentId is not null) documents.Patch<Agent>(opened.AgentId).Increment(a => a.SessionCount);
    }
}
