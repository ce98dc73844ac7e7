using Everruns.Contracts;

namespace Everruns.Modules.Agents;

/// <summary>An agent: the behaviour (system prompt, model, capabilities) sessions run with. Stored as a Marten document.</summary>
public sealed class Agent
{
    public string Id { get; set; } = "";
    public string OrgId { get; set; } = Tenancy.DefaultOrgId;
    public string Name { get; set; } = "";
    public string? DisplayName { get; set; }
    public string? Description { get; set; }
    public string SystemPrompt { get; set; } = "";
    public string? DefaultModelId { get; set; }
    public string HarnessId { get; set; } = BuiltInHarness.Id;
    public int? MaxIterations { get; set; }
    public List<CapabilityRef> Capabilities { get; set; } = [];

    /// <summary>Tools its sessions' clients run (<c>"type":"client_side"</c>).</summary>
    public List<ClientToolDefinition> Tools { get; set; } = [];

    /// <summary>Whether the model may call several tools in one answer (null: the provider's default).</summary>
    public bool? ParallelToolCalls { get; set; }

    /// <summary>Files copied into each new session's workspace.</summary>
    public List<InitialFile> InitialFiles { get; set; } = [];
    public List<string> Tags { get; set; } = [];
    public string Status { get; set; } = AgentStatus.Active;
    public long SessionCount { get; set; }

    /// <summary>The version new sessions run on (a published one); null: the latest.</summary>
    public string? DefaultVersionId { get; set; }

    /// <summary>Its newest version, its number and its behaviour's hash (a change that keeps the hash records none).</summary>
    public string? LatestVersionId { get; set; }
    public int LatestVersionNumber { get; set; }
    public string? LatestConfigHash { get; set; }

    /// <summary>The agent and version it was forked from, and the first agent of its fork family.</summary>
    public string? ForkedFromAgentId { get; set; }
    public string? ForkedFromVersionId { get; set; }
    public string? RootAgentId { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
    public DateTimeOffset? ArchivedAt { get; set; }
}

public static class AgentStatus
{
    public const string Active = "active";
    public const string Archived = "archived";
}
