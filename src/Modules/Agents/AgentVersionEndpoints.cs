using System.Text.Json;
using System.Text.Json.Nodes;
using Everruns.Contracts;
using Everruns.Infrastructure;
using Marten;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Wolverine.Http;

namespace Everruns.Modules.Agents;

public sealed record AgentVersionResponse(
    string Id, string AgentId, int VersionNumber, int SemverMajor, int SemverMinor, int SemverPatch, string Version, bool IsPublished,
    string ChangeKind, string ConfigHash, AgentConfig AuthoredConfig, ResolvedAgentConfig ResolvedConfig, DateTimeOffset CreatedAt,
    string? CreatedByPrincipalId, string? ParentVersionId, string? SourceVersionId, string? Summary)
{
    public static AgentVersionResponse From(AgentVersion v) =>
        new(v.Id, v.AgentId, v.VersionNumber, v.SemverMajor, v.SemverMinor, v.SemverPatch, v.Version, v.IsPublished, v.ChangeKind,
            v.ConfigHash, v.AuthoredConfig, v.ResolvedConfig, v.CreatedAt, v.CreatedByPrincipalId, v.ParentVersionId, v.SourceVersionId,
            v.Summary);
}

public sealed record CreateAgentVersionRequest(string? ChangeKind, string? Summary);

public sealed record SetDefaultAgentVersionRequest(string? VersionId);

public sealed record RollbackAgentVersionRequest(bool? SaveVersion, string? Summary);

public sealed record ForkAgentVersionRequest(string? Name, string? DisplayName, string? Description);

public sealed record AgentVersionDiffResponse(string FromVersionId, string ToVersionId, JsonObject AuthoredDiff, JsonObject ResolvedDiff);

/// <summary>
/// /v1/agents/{id}/versions: an agent's immutable versions (every behaviour change records a draft; publishing gives a
/// semantic version), its default (what new sessions run on), field-level diffs, rollback and fork.
/// </summary>
public static class AgentVersionEndpoints
{
    [WolverineGet("/v1/agents/{id}/versions"), ProducesResponseType<IReadOnlyList<AgentVersionResponse>>(StatusCodes.Status200OK)]
    public static async Task<IResult> List(string id, IQuerySession documents, HttpRequest http)
    {
        var agent = await AgentLookup.FindByIdOrNameAsync(documents, id, http.HttpContext.RequestAborted);
        if (agent is null) return Problems.Result(AgentLookup.NotFound(id));
        var versions = await documents.Query<AgentVersion>().Where(v => v.AgentId == agent.Id).OrderByDescending(v => v.VersionNumber)
            .ToListAsync(http.HttpContext.RequestAborted);
        return Results.Ok(versions.Select(AgentVersionResponse.From).ToList());
    }

    /// <summary>Publishes the agent's current behaviour: <c>manual</c> (a patch) unless <c>change_kind</c> says minor or major.</summary>
    [WolverinePost("/v1/agents/{id}/versions"), ProducesResponseType<AgentVersionResponse>(StatusCodes.Status200OK)]
    public static async Task<IResult> Create(string id, CreateAgentVersionRequest? request, IDocumentSession documents, IHarnessDirectory harnesses,
        HttpRequest http)
    {
        var kind = request?.ChangeKind ?? AgentVersions.Manual;
        if (!AgentVersions.Kinds.Contains(kind))
            return Problems.Result(Problems.BadRequest("invalid_change_kind", $"change_kind must be one of {string.Join(", ", AgentVersions.Kinds.Skip(1))}"));
        if (kind == AgentVersions.Auto)
            return Problems.Result(Problems.BadRequest("invalid_change_kind", "change_kind 'auto' is reserved for the drafts recorded on every change"));
        var agent = await AgentLookup.FindByIdOrNameAsync(documents, id, http.HttpContext.RequestAborted);
        if (agent is null) return Problems.Result(AgentLookup.NotFound(id));
        var version = await AgentVersions.RecordAsync(documents, agent, harnesses, Actor(http), kind, published: true, request?.Summary, null,
            http.HttpContext.RequestAborted);
        return Results.Ok(AgentVersionResponse.From(version));
    }

    [WolverinePost("/v1/agents/{id}/versions/default"), ProducesResponseType<AgentResponse>(StatusCodes.Status200OK)]
    public static async Task<IResult> SetDefault(string id, SetDefaultAgentVersionRequest? request, IDocumentSession documents, HttpRequest http)
    {
        if (request?.VersionId is not { } versionId) return Problems.Result(Problems.BadRequest("invalid_version_id", "version_id is required"));
        var (agent, version, problem) = await FindAsync(documents, id, versionId, http.HttpContext.RequestAborted);
        if (problem is not null) return Problems.Result(problem);
        if (!version!.IsPublished)
            return Problems.Result(Problems.BadRequest("version_not_published",
                $"{version.Version} is a draft: publish the agent (POST /v1/agents/{agent!.Id}/versions) and make that version the default"));
        agent!.DefaultVersionId = version.Id;
        agent.UpdatedAt = DateTimeOffset.UtcNow;
        documents.Store(agent);
        return Results.Ok(AgentResponse.From(agent, http));
    }

    /// <summary>What differs between two versions of the agent: each top-level field that changed, <c>{"from": …, "to": …}</c>.</summary>
    [WolverineGet("/v1/agents/{id}/versions/{fromVersionId}/diff/{toVersionId}"), ProducesResponseType<AgentVersionDiffResponse>(StatusCodes.Status200OK)]
    public static async Task<IResult> Diff(string id, string fromVersionId, string toVersionId, IQuerySession documents, HttpRequest http)
    {
        var ct = http.HttpContext.RequestAborted;
        var (_, from, problem) = await FindAsync(documents, id, fromVersionId, ct);
        if (problem is not null) return Problems.Result(problem);
        var (_, to, toProblem) = await FindAsync(documents, id, toVersionId, ct);
        if (toProblem is not null) return Problems.Result(toProblem);
        return Results.Ok(new AgentVersionDiffResponse(from!.Id, to!.Id, Compare(from.AuthoredConfig, to.AuthoredConfig),
            Compare(from.ResolvedConfig, to.ResolvedConfig)));
    }

    /// <summary>
    /// Puts an earlier version's behaviour back on the agent as a new version equal to it (<c>rollback</c>, its source the
    /// earlier one), published when <c>save_version</c> is true.
    /// </summary>
    [WolverinePost("/v1/agents/{id}/versions/{versionId}/rollback"), ProducesResponseType<AgentResponse>(StatusCodes.Status200OK)]
    public static async Task<IResult> Rollback(string id, string versionId, RollbackAgentVersionRequest? request, IDocumentSession documents,
        IHarnessDirectory harnesses, HttpRequest http)
    {
        var ct = http.HttpContext.RequestAborted;
        var (agent, version, problem) = await FindAsync(documents, id, versionId, ct);
        if (problem is not null) return Problems.Result(problem);
        if (agent!.Status != AgentStatus.Active)
            return Problems.Result(Problems.Conflict("agent_archived", $"agent {agent.Id} is archived; set status to 'active' to change it"));
        version!.AuthoredConfig.ApplyTo(agent);
        agent.UpdatedAt = DateTimeOffset.UtcNow;
        await AgentVersions.RecordAsync(documents, agent, harnesses, Actor(http), AgentVersions.Rollback, request?.SaveVersion == true,
            request?.Summary ?? $"Rollback to {version.Version}", version.Id, ct);
        return Results.Ok(AgentResponse.From(agent, http));
    }

    /// <summary>A new agent from a version (named in the body), its first version published as <c>fork</c> and its default.</summary>
    [WolverinePost("/v1/agents/{id}/versions/{versionId}/fork"), ProducesResponseType<AgentResponse>(StatusCodes.Status200OK)]
    public static async Task<IResult> Fork(string id, string versionId, ForkAgentVersionRequest? request, IDocumentSession documents,
        IHarnessDirectory harnesses, HttpRequest http)
    {
        var ct = http.HttpContext.RequestAborted;
        if (AgentRules.Name(request?.Name) is { } invalidName) return Problems.Result(invalidName);
        var (source, version, problem) = await FindAsync(documents, id, versionId, ct);
        if (problem is not null) return Problems.Result(problem);
        if (await documents.Query<Agent>().AnyAsync(a => a.Name == request!.Name, ct))
            return Problems.Result(Problems.Conflict("agent_name_taken", $"another agent is already named '{request!.Name}'"));
        var now = DateTimeOffset.UtcNow;
        var config = version!.AuthoredConfig;
        var fork = new Agent
        {
            Id = Ids.New(Ids.Agent), OrgId = source!.OrgId, Name = request!.Name!, DisplayName = request.DisplayName ?? config.DisplayName,
            Description = request.Description ?? config.Description, Tags = [.. config.Tags], CreatedAt = now, UpdatedAt = now,
            ForkedFromAgentId = source.Id, ForkedFromVersionId = version.Id, RootAgentId = source.RootAgentId ?? source.Id,
        };
        config.ApplyTo(fork);
        await AgentVersions.RecordAsync(documents, fork, harnesses, Actor(http), AgentVersions.Fork, published: true,
            $"Forked from {source.Name} {version.Version}", version.Id, ct);
        return Results.Ok(AgentResponse.From(fork, http));
    }

    private static JsonObject Compare<T>(T from, T to)
    {
        var a = JsonSerializer.SerializeToNode(from, AgentVersions.Json)!.AsObject();
        var b = JsonSerializer.SerializeToNode(to, AgentVersions.Json)!.AsObject();
        var diff = new JsonObject();
        foreach (var key in a.Select(p => p.Key).Union(b.Select(p => p.Key)))
        {
            var before = a[key];
            var after = b[key];
            if (JsonNode.DeepEquals(before, after)) continue;
            diff[key] = new JsonObject { ["from"] = before?.DeepClone(), ["to"] = after?.DeepClone() };
        }

        return diff;
    }

    private static string Actor(HttpRequest http) => Ids.PrincipalOf(http.Caller().UserId);

    /// <summary>The agent (id or name) and its version; 404 for either missing, 400 for a version of another agent.</summary>
    private static async Task<(Agent?, AgentVersion?, ProblemDetails?)> FindAsync(IQuerySession documents, string agentId, string versionId,
        CancellationToken ct)
    {
        var agent = await AgentLookup.FindByIdOrNameAsync(documents, agentId, ct);
        if (agent is null) return (null, null, AgentLookup.NotFound(agentId));
        if (!Ids.IsValid(versionId, Ids.AgentVersion))
            return (agent, null, Problems.BadRequest("invalid_version_id", $"'{versionId}' is not an agent version id (agentver_<32 hex>)"));
        var version = await documents.LoadAsync<AgentVersion>(versionId, ct);
        if (version is null) return (agent, null, Problems.NotFound("agent_version_not_found", $"agent version {versionId} not found"));
        if (version.AgentId != agent.Id)
            return (agent, null, Problems.BadRequest("agent_version_mismatch", $"agent version {versionId} belongs to another agent"));
        return (agent, version, null);
    }
}
