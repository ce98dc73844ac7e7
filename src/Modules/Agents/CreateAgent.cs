using Everruns.Contracts;
using Everruns.Infrastructure;
using Marten;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Wolverine.Http;

namespace Everruns.Modules.Agents;

public sealed record CreateAgentRequest(
    string? Id,
    string? Name,
    string? DisplayName,
    string? Description,
    string? SystemPrompt,
    string? DefaultModelId,
    string? HarnessId,
    string? HarnessName,
    int? MaxIterations,
    List<CapabilityRef?>? Capabilities,
    List<string?>? Tags,
    string? Model = null,
    List<ClientToolDefinition?>? Tools = null,
    bool? ParallelToolCalls = null,
    List<InitialFile?>? InitialFiles = null,
    [property: System.Text.Json.Serialization.JsonPropertyName("mcpServers")] System.Text.Json.Nodes.JsonNode? McpServers = null,
    System.Text.Json.Nodes.JsonNode? NetworkAccess = null,
    List<ClientToolDefinition?>? ClientTools = null)
{
    /// <summary>
    /// The client's tools, from <c>tools</c> or from <c>client_tools</c> (the earlier name of the field, whose entries said
    /// <c>"type":"client"</c>), not both.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public List<ClientToolDefinition?>? DeclaredTools => Tools ?? ClientToolDefinition.FromLegacy(ClientTools);

    public ProblemDetails? NotSupported() =>
        InputRules.First(InputRules.InitialFiles(InitialFiles), InputRules.Unsupported(("mcpServers", McpServers), ("network_access", NetworkAccess)));
}

/// <summary>
/// POST /v1/agents creates an agent, or updates the one with the same id or name (upsert): 201 when
/// created, 200 when an existing agent was replaced. PUT /v1/agents/{id} does the same for a given id.
/// </summary>
public static class CreateAgentEndpoint
{
    public static ProblemDetails Validate(CreateAgentRequest? request)
    {
        if (request is null)
            return Problems.BadRequest("invalid_body", "the request body must be a JSON object");
        return InputRules.First(
                   AgentRules.Id(request.Id),
                   AgentRules.Name(request.Name),
                   request.SystemPrompt is null ? Problems.BadRequest("invalid_system_prompt", "system_prompt is required") : null,
                   InputRules.Harness(request.HarnessId, request.HarnessName),
                   InputRules.MaxIterations(request.MaxIterations),
                   InputRules.Capabilities(request.Capabilities),
                   request.Tools is not null && request.ClientTools is not null
                       ? Problems.BadRequest("invalid_tools", "give tools or client_tools (its earlier name), not both")
                       : null,
                   InputRules.ClientTools(request.DeclaredTools),
                   InputRules.Tags(request.Tags),
                   request.NotSupported())
               ?? WolverineContinue.NoProblems;
    }

    [WolverinePost("/v1/agents"), Idempotent, ProducesResponseType<AgentResponse>(StatusCodes.Status201Created), ProducesResponseType<AgentResponse>(StatusCodes.Status200OK)]
    public static Task<IResult> Post(CreateAgentRequest request, IDocumentSession session, IModelDirectory models, IHarnessDirectory harnesses,
        IOrgDefaults orgDefaults, HttpRequest http) =>
        Upsert(request, request.Id, session, models, harnesses, orgDefaults, http);

    [WolverinePut("/v1/agents/{id}"), ProducesResponseType<AgentResponse>(StatusCodes.Status201Created), ProducesResponseType<AgentResponse>(StatusCodes.Status200OK)]
    public static Task<IResult> Put(string id, CreateAgentRequest request, IDocumentSession session, IModelDirectory models,
        IHarnessDirectory harnesses, IOrgDefaults orgDefaults, HttpRequest http)
    {
        if (AgentRules.Id(id) is { } invalid) return Task.FromResult(Problems.Result(invalid));
        if (request.Id is not null && request.Id != id)
            return Task.FromResult(Problems.Result(Problems.BadRequest("id_mismatch", "the body's id differs from the path's")));
        return Upsert(request, id, session, models, harnesses, orgDefaults, http);
    }

    /// <summary>
    /// Creates the agent, or replaces the one with <paramref name="id"/> (or, when <paramref name="matchName"/>, the one
    /// with its name); records a version (<paramref name="versionKind"/>) when its behaviour changed.
    /// </summary>
    internal static async Task<IResult> Upsert(CreateAgentRequest request, string? id, IDocumentSession session, IModelDirectory models,
        IHarnessDirectory harnesses, IOrgDefaults orgDefaults, HttpRequest http, bool matchName = true, string versionKind = AgentVersions.Auto)
    {
        var org = http.Caller().Org;
        var ct = http.HttpContext.RequestAborted;
        if (await InputRules.Model(models, org, request.DefaultModelId ?? request.Model, ct) is { } unknownModel)
            return Problems.Result(unknownModel);
        var (harness, harnessProblem) = await InputRules.HarnessAsync(harnesses, org, request.HarnessId, request.HarnessName, ct);
        if (harnessProblem is not null) return Problems.Result(harnessProblem);
        // The org's documents only: an id another org uses is free here, and its agent is never touched.
        var byId = id is null ? null : await session.LoadAsync<Agent>(id);
        var byName = await session.Query<Agent>().FirstOrDefaultAsync(a => a.Name == request.Name);

        if (byId is not null && byName is not null && byId.Id != byName.Id)
            return Problems.Result(Problems.Conflict("agent_name_taken", $"another agent is already named '{request.Name}'"));
        if (id is not null && byId is null && byName is not null)
            return Problems.Result(Problems.Conflict("agent_name_taken", $"agent {byName.Id} is already named '{request.Name}'"));

        var now = DateTimeOffset.UtcNow;
        if (!matchName && byName is not null && byName.Id != byId?.Id)
            return Problems.Result(Problems.Conflict("agent_name_taken", $"agent {byName.Id} is already named '{request.Name}'"));
        var existing = byId ?? byName;
        var agent = existing ?? new Agent { Id = id ?? Ids.New(Ids.Agent), OrgId = org, CreatedAt = now };
        agent.Name = request.Name!;
        agent.DisplayName = request.DisplayName;
        agent.Description = request.Description;
        agent.SystemPrompt = request.SystemPrompt!;
        agent.DefaultModelId = request.DefaultModelId ?? request.Model;
        // The one it names, else the org's default, else the built-in one.
        agent.HarnessId = harness?.Id ?? await orgDefaults.HarnessAsync(org, ct) ?? BuiltInHarness.Id;
        agent.MaxIterations = request.MaxIterations;
        agent.Capabilities = request.Capabilities?.Select(c => BuiltInCapabilities.Canonical(c!)).ToList() ?? [];
        agent.Tools = request.DeclaredTools?.Select(t => t!).ToList() ?? [];
        agent.ParallelToolCalls = request.ParallelToolCalls;
        agent.InitialFiles = request.InitialFiles?.Select(f => f!).ToList() ?? [];
        agent.Tags = request.Tags?.Select(t => t!).Distinct().ToList() ?? [];
        // An upsert brings an archived agent back.
        agent.Status = AgentStatus.Active;
        agent.ArchivedAt = null;
        agent.UpdatedAt = now;
        session.Store(agent);
        await AgentVersions.DraftIfChangedAsync(session, agent, harnesses, Ids.PrincipalOf(http.Caller().UserId), ct, versionKind);

        var response = AgentResponse.From(agent, http);
        IdempotencyKeys.Record(http.HttpContext, session, existing is null ? StatusCodes.Status201Created : StatusCodes.Status200OK,
            existing is null ? response.SelfUrl : null, response);
        return existing is null ? Results.Created(response.SelfUrl, response) : Results.Ok(response);
    }
}
