using Everruns.Contracts;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Extensions;

namespace Everruns.Modules.Agents;

/// <summary>The Agent resource as the public API shows it (WithUrls + ResourceWithCounts).</summary>
public sealed record AgentResponse(
    string Id,
    string Name,
    string? DisplayName,
    string? Description,
    string SystemPrompt,
    string? DefaultModelId,
    string HarnessId,
    int? MaxIterations,
    IReadOnlyList<CapabilityRef> Capabilities,
    IReadOnlyList<ClientToolDefinition> Tools,
    bool? ParallelToolCalls,
    IReadOnlyList<InitialFile> InitialFiles,
    IReadOnlyList<string> Tags,
    string Status,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset? ArchivedAt,
    long SessionCount,
    string? DefaultVersionId,
    string? ForkedFromAgentId,
    string? ForkedFromVersionId,
    string? RootAgentId,
    long AppCount,
    string SelfUrl,
    string ViewUrl,
    string UiLink)
{
    public static AgentResponse From(Agent agent, HttpRequest request)
    {
        var self = UriHelper.BuildAbsolute(request.Scheme, request.Host, request.PathBase, $"/v1/agents/{agent.Id}");
        var view = UriHelper.BuildAbsolute(request.Scheme, request.Host, request.PathBase, $"/agents/{agent.Id}");
        return new AgentResponse(agent.Id, agent.Name, agent.DisplayName, agent.Description, agent.SystemPrompt,
            agent.DefaultModelId, agent.HarnessId, agent.MaxIterations, agent.Capabilities, agent.Tools, agent.ParallelToolCalls, agent.InitialFiles, agent.Tags, agent.Status,
            agent.CreatedAt, agent.UpdatedAt, agent.ArchivedAt, agent.SessionCount, agent.DefaultVersionId, agent.ForkedFromAgentId,
            agent.ForkedFromVersionId, agent.RootAgentId, 0, self, view, view);
    }
}
