using Everruns.Contracts;

namespace Everruns.Modules.Sessions;

/// <summary>
/// A session: one conversation with an agent. Its settings are captured from the agent when it opens
/// (like an agent version), so later agent edits don't change a running conversation. Its events live
/// in the session's event stream; this document is the queryable summary.
/// </summary>
public sealed class Session
{
    public string Id { get; set; } = "";
    public string OrgId { get; set; } = Tenancy.DefaultOrgId;

    /// <summary>The user who opened it.</summary>
    public string OwnerId { get; set; } = "";
    public string? AgentId { get; set; }

    /// <summary>The agent's version whose settings the session took when it opened (null for an agent older than versions).</summary>
    public string? AgentVersionId { get; set; }
    public string HarnessId { get; set; } = BuiltInHarness.Id;

    /// <summary>The harness's system prompt as the session was opened: its turns' prompt starts with it.</summary>
    public string? HarnessPrompt { get; set; }
    public string? Title { get; set; }
    public List<string> Tags { get; set; } = [];
    public string? ModelId { get; set; }
    public string? SystemPrompt { get; set; }
    public int? MaxIterations { get; set; }
    /// <summary>The session's own capabilities, added to its agent's (<see cref="AgentCapabilities"/>) when a turn runs.</summary>
    public List<CapabilityRef> Capabilities { get; set; } = [];

    /// <summary>
    /// The agent's capabilities (over its harness's) as the session was opened: the session keeps them when the agent or
    /// the harness changes.
    /// </summary>
    public List<CapabilityRef> AgentCapabilities { get; set; } = [];

    /// <summary>The session's own client tools, added to its agent's (<see cref="AgentTools"/>, as the session was opened).</summary>
    public List<ClientToolDefinition> Tools { get; set; } = [];

    public List<ClientToolDefinition> AgentTools { get; set; } = [];

    /// <summary>The session's own, else its agent's (as it opened): whether the model may call several tools at once.</summary>
    public bool? ParallelToolCalls { get; set; }

    /// <summary>Its workspace (its own default one, or one it shares); null for a session opened before workspaces existed.</summary>
    public string? WorkspaceId { get; set; }
    public string? Locale { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
    public DateTimeOffset? DeletedAt { get; set; }

    /// <summary>A fork's parent session, and the last of the parent's events it was forked at (copied up to).</summary>
    public string? ForkedFromSessionId { get; set; }

    public long? ForkedFromSequence { get; set; }

    /// <summary>
    /// Takes what the session runs with from its harness and agent (none: the harness alone): the agent's prompt, limits,
    /// tools, version and model, over the harness's prompt (first), capabilities and model. A request's own values go over
    /// these afterwards; a model neither names stays null (the caller's fallback).
    /// </summary>
    public void RunOn(HarnessSnapshot harness, AgentSnapshot? agent)
    {
        AgentId = agent?.Id;
        AgentVersionId = agent?.VersionId;
        HarnessId = harness.Id;
        HarnessPrompt = harness.SystemPrompt;
        SystemPrompt = agent?.SystemPrompt;
        ModelId = agent?.DefaultModelId ?? harness.DefaultModelId;
        MaxIterations = agent?.MaxIterations;
        AgentCapabilities = harness.Under(agent?.Capabilities ?? []).ToList();
        AgentTools = agent?.Tools?.ToList() ?? [];
        ParallelToolCalls = agent?.ParallelToolCalls;
    }

    /// <summary>The harness an agent runs on, or the 409 to answer when it no longer exists.</summary>
    public static async Task<(HarnessSnapshot? Harness, Microsoft.AspNetCore.Mvc.ProblemDetails? Problem)> HarnessOfAsync(
        IHarnessDirectory harnesses, string orgId, string harnessId, AgentSnapshot? agent, CancellationToken ct)
    {
        var harness = await harnesses.FindAsync(orgId, harnessId, ct);
        return harness is not null
            ? (harness, null)
            : (null, Infrastructure.Problems.Conflict("harness_not_found",
                agent is null
                    ? $"the organization's default harness {harnessId} no longer exists: choose another default, or name a harness"
                    : $"agent {agent.Id} runs on harness {harnessId}, which no longer exists: give the agent another harness"));
    }
}
