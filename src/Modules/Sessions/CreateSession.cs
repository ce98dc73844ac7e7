using Everruns.Contracts;
using Everruns.Infrastructure;
using Marten;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Wolverine;
using Wolverine.Http;

namespace Everruns.Modules.Sessions;

public sealed record CreateSessionRequest(
    string? AgentId,
    string? AgentName,
    string? HarnessId,
    string? HarnessName,
    string? Title,
    List<string?>? Tags,
    string? ModelId,
    string? SystemPrompt,
    int? MaxIterations,
    List<CapabilityRef?>? Capabilities,
    string? Locale,
    List<ClientToolDefinition?>? Tools = null,
    bool? ParallelToolCalls = null,
    List<InitialFile?>? InitialFiles = null,
    [property: System.Text.Json.Serialization.JsonPropertyName("mcpServers")] System.Text.Json.Nodes.JsonNode? McpServers = null,
    System.Text.Json.Nodes.JsonNode? NetworkAccess = null,
    string? WorkspaceId = null,
    System.Text.Json.Nodes.JsonNode? AgentIdentityId = null,
    System.Text.Json.Nodes.JsonNode? Hints = null,
    string? AgentVersionId = null);

/// <summary>
/// POST /v1/sessions opens a session, optionally with an agent (by agent_id or agent_name, not both). The
/// agent's prompt, model, iteration limit and capabilities are captured; the request's own values win and
/// its capabilities are added to the agent's.
/// </summary>
public static class CreateSessionEndpoint
{
    public static ProblemDetails Validate(CreateSessionRequest? request)
    {
        if (request is null) return WolverineContinue.NoProblems; // an empty body opens a bare session
        if (request.AgentId is not null && request.AgentName is not null)
            return Problems.BadRequest("agent_id_and_name", "give agent_id or agent_name, not both");
        if (request.AgentVersionId is not null && !Ids.IsValid(request.AgentVersionId, Ids.AgentVersion))
            return Problems.BadRequest("invalid_agent_version_id", $"'{request.AgentVersionId}' is not an agent version id (agentver_<32 hex>)");
        if (request.AgentId is not null && !Ids.IsValid(request.AgentId, Ids.Agent))
            return Problems.BadRequest("invalid_agent_id", $"'{request.AgentId}' is not an agent id (agent_<32 hex>)");
        return InputRules.First(
                   InputRules.Harness(request.HarnessId, request.HarnessName),
                   InputRules.MaxIterations(request.MaxIterations),
                   InputRules.Capabilities(request.Capabilities),
                   InputRules.ClientTools(request.Tools),
                   InputRules.Tags(request.Tags),
                   InputRules.InitialFiles(request.InitialFiles),
                   InputRules.Unsupported(("mcpServers", request.McpServers), ("network_access", request.NetworkAccess),
                       ("agent_identity_id", request.AgentIdentityId), ("hints", request.Hints)),
                   request.Title is { Length: > 500 } ? Problems.BadRequest("invalid_title", "title is at most 500 characters") : null)
               ?? WolverineContinue.NoProblems;
    }

    [WolverinePost("/v1/sessions"), Idempotent, ProducesResponseType<SessionResponse>(StatusCodes.Status201Created)]
    public static async Task<IResult> Post(CreateSessionRequest? request, IDocumentSession documents, IAgentDirectory agents,
        IModelDirectory models, IOrgDefaults orgDefaults, IWorkspaceDirectory workspaces, IHarnessDirectory harnesses, IMessageBus bus,
        HttpRequest http)
    {
        var ct = http.HttpContext.RequestAborted;
        request ??= new CreateSessionRequest(null, null, null, null, null, null, null, null, null, null, null);
        var caller = http.Caller();
        var org = caller.Org;
        AgentSnapshot? agent = null;
        if (request.AgentVersionId is not null)
        {
            // A version names its agent: the session runs on it, whatever the agent's default.
            agent = await agents.VersionAsync(org, request.AgentVersionId, ct);
            if (agent is null)
                return Problems.Result(Problems.NotFound("agent_version_not_found", $"agent version {request.AgentVersionId} not found"));
            if ((request.AgentId is not null && request.AgentId != agent.Id) || (request.AgentName is not null && request.AgentName != agent.Name))
                return Problems.Result(Problems.BadRequest("agent_version_mismatch",
                    $"agent version {request.AgentVersionId} belongs to agent {agent.Id}, not {request.AgentId ?? request.AgentName}"));
            if (agent.Status != "active")
                return Problems.Result(Problems.Conflict("agent_archived", $"agent {agent.Id} is archived"));
        }
        else if (request.AgentId is not null || request.AgentName is not null)
        {
            agent = await agents.FindAsync(org, request.AgentId, request.AgentName, http.HttpContext.RequestAborted);
            if (agent is null)
                return Problems.Result(Problems.NotFound("agent_not_found", $"agent {request.AgentId ?? request.AgentName} not found"));
            if (agent.Status != "active")
                return Problems.Result(Problems.Conflict("agent_archived", $"agent {agent.Id} is archived"));
        }

        if (await InputRules.Model(models, org, request.ModelId, http.HttpContext.RequestAborted) is { } unknownModel) return Problems.Result(unknownModel);
        // The harness it names, else its agent's, else the org's default, else the built-in one.
        var (harness, harnessProblem) = await InputRules.HarnessAsync(harnesses, org, request.HarnessId, request.HarnessName, ct);
        if (harnessProblem is not null) return Problems.Result(harnessProblem);
        if (harness is null)
        {
            (harness, harnessProblem) = await Session.HarnessOfAsync(harnesses, org,
                agent?.HarnessId ?? await orgDefaults.HarnessAsync(org, ct) ?? BuiltInHarness.Id, agent, ct);
            if (harnessProblem is not null) return Problems.Result(harnessProblem);
        }

        // Added to the agent's: a name the agent's tools use is refused.
        if (agent?.Tools is { Count: > 0 } agentTools && InputRules.ClientTools(request.Tools, agentTools) is { } clash)
            return Problems.Result(clash);

        var now = DateTimeOffset.UtcNow;
        var session = new Session
        {
            Id = Ids.New(Ids.Session),
            OrgId = org,
            OwnerId = caller.UserId,
            Title = request.Title,
            Tags = request.Tags?.Select(t => t!).Distinct().ToList() ?? [],
            Capabilities = request.Capabilities?.Select(c => BuiltInCapabilities.Canonical(c!)).DistinctBy(c => c.Ref).ToList() ?? [],
            Tools = request.Tools?.Select(t => t!).ToList() ?? [],
            Locale = request.Locale,
            CreatedAt = now,
            UpdatedAt = now,
        };
        session.RunOn(harness!, agent);
        // The session's own, else its agent's, else its harness's, else its org's default model (else the server's, when a turn runs).
        session.ModelId = request.ModelId ?? session.ModelId ?? await orgDefaults.ModelAsync(org, ct);
        session.SystemPrompt = request.SystemPrompt ?? session.SystemPrompt;
        session.MaxIterations = request.MaxIterations ?? session.MaxIterations;
        session.ParallelToolCalls = request.ParallelToolCalls ?? session.ParallelToolCalls;
        // Its workspace and initial files (the harness's, the agent's over them, its own over those, by path), in this transaction.
        var files = harness!.InitialFiles.Concat(agent?.InitialFiles ?? []).Concat(request.InitialFiles?.Select(f => f!) ?? [])
            .GroupBy(f => f.Path).Select(g => g.Last()).ToList();
        var mounts = MemoryMounts.From([.. session.AgentCapabilities, .. session.Capabilities]);
        var (workspaceId, refused) = await workspaces.AttachAsync(documents, org, session.Id, request.WorkspaceId, files, http.HttpContext.RequestAborted, mounts);
        if (refused is not null) return Problems.Result(Problems.Create(refused.Status, refused.Code!, refused.Message));
        session.WorkspaceId = workspaceId;
        documents.Store(session);
        // Outboxed with the session: commits (or not) in the same transaction.
        await bus.PublishAsync(new SessionOpened(session.Id, org, session.AgentId));

        var response = SessionResponse.From(session, null, http); // a new session has no turns yet
        IdempotencyKeys.Record(http.HttpContext, documents, StatusCodes.Status201Created, response.SelfUrl, response);
        return Results.Created(response.SelfUrl, response);
    }
}
