using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Everruns.Contracts;
using Marten;

namespace Everruns.Modules.Agents;

/// <summary>
/// What an agent says about itself and how it behaves, as a version keeps it (<c>authored_config</c>). Only the behaviour
/// (<see cref="Behaviour"/>: prompt, model, harness, limits, capabilities, tools, initial files) makes a new version; a
/// rename or a new description does not.
/// </summary>
public sealed record AgentConfig(
    string Name, string? DisplayName, string? Description, IReadOnlyList<string> Tags,
    string SystemPrompt, string? DefaultModelId, string HarnessId, int? MaxIterations, bool? ParallelToolCalls,
    IReadOnlyList<CapabilityRef> Capabilities, IReadOnlyList<ClientToolDefinition> Tools, IReadOnlyList<InitialFile> InitialFiles)
{
    public static AgentConfig Of(Agent agent) =>
        new(agent.Name, agent.DisplayName, agent.Description, [.. agent.Tags], agent.SystemPrompt, agent.DefaultModelId, agent.HarnessId,
            agent.MaxIterations, agent.ParallelToolCalls, [.. agent.Capabilities], [.. agent.Tools], [.. agent.InitialFiles]);

    /// <summary>The behaviour alone, as compared between versions (<see cref="Hash"/>).</summary>
    [JsonIgnore]
    public object Behaviour => new { SystemPrompt, DefaultModelId, HarnessId, MaxIterations, ParallelToolCalls, Capabilities, Tools, InitialFiles };

    /// <summary>
    /// <c>sha256:</c> and the hex of the behaviour's JSON with its objects' keys sorted: equal behaviours, equal hashes
    /// (PostgreSQL's jsonb does not keep the order of keys in a capability's config or a tool's schema).
    /// </summary>
    public string Hash() =>
        "sha256:" + Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(Sorted(JsonSerializer.SerializeToNode(Behaviour, AgentVersions.Json))?.ToJsonString() ?? "")))
            .ToLowerInvariant();

    private static JsonNode? Sorted(JsonNode? node) => node switch
    {
        JsonObject o => new JsonObject(o.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => KeyValuePair.Create(p.Key, Sorted(p.Value)))),
        JsonArray a => new JsonArray(a.Select(Sorted).ToArray()),
        null => null,
        _ => JsonNode.Parse(node.ToJsonString()),
    };

    /// <summary>Puts this behaviour back on the agent (its name, description and tags stay).</summary>
    public void ApplyTo(Agent agent)
    {
        agent.SystemPrompt = SystemPrompt;
        agent.DefaultModelId = DefaultModelId;
        agent.HarnessId = HarnessId;
        agent.MaxIterations = MaxIterations;
        agent.ParallelToolCalls = ParallelToolCalls;
        agent.Capabilities = [.. Capabilities];
        agent.Tools = [.. Tools];
        agent.InitialFiles = [.. InitialFiles];
    }
}

/// <summary>What a turn of a session on the version runs with once its harness is applied (<c>resolved_config</c>).</summary>
public sealed record ResolvedAgentConfig(
    string SystemPrompt, string? DefaultModelId, string HarnessId, int? MaxIterations, bool? ParallelToolCalls,
    IReadOnlyList<CapabilityRef> Capabilities, IReadOnlyList<ClientToolDefinition> Tools, IReadOnlyList<InitialFile> InitialFiles);

/// <summary>
/// An immutable snapshot of an agent. Every change of its behaviour records one (<c>auto</c>, a draft); a published one
/// (<c>POST /v1/agents/{id}/versions</c>, a rollback asked to be saved, a fork's first) has a semantic version and may be
/// the agent's default, which new sessions run on.
/// </summary>
public sealed class AgentVersion
{
    public string Id { get; set; } = "";
    public string OrgId { get; set; } = Tenancy.DefaultOrgId;
    public string AgentId { get; set; } = "";
    public int VersionNumber { get; set; }
    public int SemverMajor { get; set; }
    public int SemverMinor { get; set; }
    public int SemverPatch { get; set; }
    public bool IsPublished { get; set; }
    public string ChangeKind { get; set; } = AgentVersions.Auto;
    public string ConfigHash { get; set; } = "";
    public AgentConfig AuthoredConfig { get; set; } = null!;
    public ResolvedAgentConfig ResolvedConfig { get; set; } = null!;
    public DateTimeOffset CreatedAt { get; set; }
    public string? CreatedByPrincipalId { get; set; }
    public string? ParentVersionId { get; set; }
    public string? SourceVersionId { get; set; }
    public string? Summary { get; set; }

    public string Version => IsPublished ? $"{SemverMajor}.{SemverMinor}.{SemverPatch}" : $"draft.{VersionNumber}";

    public AgentSnapshot ToSnapshot(Agent agent) =>
        new(agent.Id, agent.Name, AuthoredConfig.SystemPrompt, AuthoredConfig.DefaultModelId, AuthoredConfig.MaxIterations,
            AuthoredConfig.Capabilities, agent.Status, AuthoredConfig.Tools, AuthoredConfig.ParallelToolCalls, AuthoredConfig.InitialFiles,
            AuthoredConfig.HarnessId, Id);
}

/// <summary>Recording versions: the numbering, the semantic version of published ones, drafts only when the behaviour changed.</summary>
public static class AgentVersions
{
    public const string Auto = "auto";
    public const string Manual = "manual";
    public const string Patch = "patch";
    public const string Minor = "minor";
    public const string Major = "major";
    public const string Import = "import";
    public const string Rollback = "rollback";
    public const string Fork = "fork";

    public static readonly string[] Kinds = [Auto, Manual, Patch, Minor, Major, Import, Rollback, Fork];

    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    /// <summary>
    /// Records the agent's current behaviour as a draft when it differs from its latest version's (or it has none);
    /// null when nothing changed. Stored in <paramref name="documents"/>' unit of work, with the agent.
    /// </summary>
    public static async Task<AgentVersion?> DraftIfChangedAsync(IDocumentSession documents, Agent agent, IHarnessDirectory harnesses,
        string? actor, CancellationToken ct, string kind = Auto)
    {
        var config = AgentConfig.Of(agent);
        if (agent.LatestVersionId is not null && agent.LatestConfigHash == config.Hash()) return null;
        return await RecordAsync(documents, agent, harnesses, actor, kind, published: false, summary: null, source: null, ct);
    }

    /// <summary>
    /// Records the agent's current behaviour as version <c>latest + 1</c>. Two writers numbering the same version at once
    /// (two edits of one agent on two instances) collide on the unique index: one of them answers 409 and writes nothing.
    /// </summary>
    public static async Task<AgentVersion> RecordAsync(IDocumentSession documents, Agent agent, IHarnessDirectory harnesses, string? actor,
        string kind, bool published, string? summary, string? source, CancellationToken ct)
    {
        var config = AgentConfig.Of(agent);
        var version = new AgentVersion
        {
            Id = Ids.New(Ids.AgentVersion),
            OrgId = agent.OrgId,
            AgentId = agent.Id,
            VersionNumber = agent.LatestVersionNumber + 1,
            ChangeKind = kind,
            IsPublished = published,
            ConfigHash = config.Hash(),
            AuthoredConfig = config,
            ResolvedConfig = await ResolveAsync(config, agent.OrgId, harnesses, ct),
            CreatedAt = DateTimeOffset.UtcNow,
            CreatedByPrincipalId = actor,
            ParentVersionId = agent.LatestVersionId,
            SourceVersionId = source,
            Summary = summary,
        };
        if (published)
        {
            var last = await documents.Query<AgentVersion>()
                .Where(v => v.AgentId == agent.Id && v.IsPublished).OrderByDescending(v => v.VersionNumber).FirstOrDefaultAsync(ct);
            (version.SemverMajor, version.SemverMinor, version.SemverPatch) = last is null
                ? (0, 1, 0)
                : kind switch
                {
                    Major => (last.SemverMajor + 1, 0, 0),
                    Minor or Fork => (last.SemverMajor, last.SemverMinor + 1, 0),
                    _ => (last.SemverMajor, last.SemverMinor, last.SemverPatch + 1),
                };
            version.ParentVersionId = last?.Id ?? agent.LatestVersionId;
            // The first published version becomes the default.
            agent.DefaultVersionId ??= version.Id;
        }

        agent.LatestVersionId = version.Id;
        agent.LatestVersionNumber = version.VersionNumber;
        agent.LatestConfigHash = version.ConfigHash;
        documents.Store(version);
        documents.Store(agent);
        return version;
    }

    /// <summary>The behaviour under its harness as it stands now: the harness's prompt first, its capabilities and files under the agent's.</summary>
    public static async Task<ResolvedAgentConfig> ResolveAsync(AgentConfig config, string orgId, IHarnessDirectory harnesses, CancellationToken ct)
    {
        var harness = await harnesses.FindAsync(orgId, config.HarnessId, ct);
        return new ResolvedAgentConfig(
            HarnessSnapshot.Compose(harness?.SystemPrompt, config.SystemPrompt),
            config.DefaultModelId ?? harness?.DefaultModelId,
            config.HarnessId, config.MaxIterations, config.ParallelToolCalls,
            harness?.Under(config.Capabilities) ?? config.Capabilities,
            config.Tools,
            [.. (harness?.InitialFiles ?? []).Concat(config.InitialFiles).GroupBy(f => f.Path).Select(g => g.Last())]);
    }
}
