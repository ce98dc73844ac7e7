using Everruns.Contracts;
using Everruns.Infrastructure;
using Marten;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Wolverine.Http;

namespace Everruns.Modules.Agents;

/// <summary>PATCH body: every field optional; a given field replaces the stored one.</summary>
public sealed record UpdateAgentRequest(
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
    string? Status,
    List<ClientToolDefinition?>? Tools = null,
    bool? ParallelToolCalls = null,
    List<InitialFile?>? InitialFiles = null,
    [property: System.Text.Json.Serialization.JsonPropertyName("mcpServers")] System.Text.Json.Nodes.JsonNode? McpServers = null,
    System.Text.Json.Nodes.JsonNode? NetworkAccess = null,
    List<ClientToolDefinition?>? ClientTools = null)
{
    [System.Text.Json.Serialization.JsonIgnore]
    public List<ClientToolDefinition?>? DeclaredTools => Tools ?? ClientToolDefinition.FromLegacy(ClientTools);
}

public static class UpdateAgentEndpoint
{
    public static ProblemDetails Validate(UpdateAgentRequest? request)
    {
        if (request is null)
            return Problems.BadRequest("invalid_body", "the request body must be a JSON object");
        return InputRules.First(
                   request.Name is null ? null : AgentRules.Name(request.Name),
                   InputRules.Harness(request.HarnessId, request.HarnessName),
                   InputRules.MaxIterations(request.MaxIterations),
                   InputRules.Capabilities(request.Capabilities),
                   request.Tools is not null && request.ClientTools is not null
                       ? Problems.BadRequest("invalid_tools", "give tools or client_tools (its earlier name), not both")
                       : null,
                   InputRules.ClientTools(request.DeclaredTools),
                   InputRules.Tags(request.Tags),
                   InputRules.InitialFiles(request.InitialFiles),
                   InputRules.Unsupported(("mcpServers", request.McpServers), ("network_access", request.NetworkAccess)),
                   request.Status is null or AgentStatus.Active or AgentStatus.Archived
                       ? null
                       : Problems.BadRequest("invalid_status", "status must be 'active' or 'archived'"))
               ?? WolverineContinue.NoProblems;
    }

    [WolverinePatch("/v1/agents/{id}"), ProducesResponseType<AgentResponse>(StatusCodes.Status200OK)]
    public static async Task<IResult> Patch(string id, UpdateAgentRequest request, IDocumentSession session, IModelDirectory models,
        IHarnessDirectory harnesses, HttpRequest http)
    {
        var (harness, harnessProblem) = await InputRules.HarnessAsync(harnesses, http.Caller().Org, request.HarnessId, request.HarnessName,
            http.HttpContext.RequestAborted);
        if (harnessProblem is not null) return Problems.Result(harnessProblem);
        if (await InputRules.Model(models, http.Caller().Org, request.DefaultModelId, http.HttpContext.RequestAborted) is { } unknownModel) return Problems.Result(unknownModel);
        if (AgentRules.Id(id) is { } invalid) return Problems.Result(invalid);
        var agent = await AgentLookup.Find(session, id);
        if (agent is null) return Problems.Result(AgentLookup.NotFound(id));

        var changesContent = request with { Status = null } != new UpdateAgentRequest(null, null, null, null, null, null, null, null, null, null, null);
        if (agent.Status == AgentStatus.Archived && request.Status != AgentStatus.Active && changesContent)
            return Problems.Result(Problems.Conflict("agent_archived", $"agent {id} is archived; set status to 'active' to change it"));

        if (request.Name is not null && request.Name != agent.Name &&
            await session.Query<Agent>().AnyAsync(a => a.Name == request.Name))
            return Problems.Result(Problems.Conflict("agent_name_taken", $"another agent is already named '{request.Name}'"));

        var now = DateTimeOffset.UtcNow;
        agent.Name = request.Name ?? agent.Name;
        agent.DisplayName = request.DisplayName ?? agent.DisplayName;
        agent.Description = request.Description ?? agent.Description;
        agent.SystemPrompt = request.SystemPrompt ?? agent.SystemPrompt;
        agent.DefaultModelId = request.DefaultModelId ?? agent.DefaultModelId;
        agent.MaxIterations = request.MaxIterations ?? agent.MaxIterations;
        agent.HarnessId = harness?.Id ?? agent.HarnessId;
        if (request.Capabilities is not null) agent.Capabilities = request.Capabilities.Select(c => BuiltInCapabilities.Canonical(c!)).ToList();
        if (request.DeclaredTools is { } tools) agent.Tools = tools.Select(t => t!).ToList(); // replaces them all
        agent.ParallelToolCalls = request.ParallelToolCalls ?? agent.ParallelToolCalls;
        if (request.InitialFiles is not null) agent.InitialFiles = request.InitialFiles.Select(f => f!).ToList();
        if (request.Tags is not null) agent.Tags = request.Tags.Select(t => t!).Distinct().ToList();
        if (request.Status is not null && request.Status != agent.Status)
        {
            agent.Status = request.Status;
            agent.ArchivedAt = request.Status == AgentStatus.Archived ? now : null;
        }

        agent.UpdatedAt = now;
        session.Store(agent);
        await AgentVersions.DraftIfChangedAsync(session, agent, harnesses, Ids.PrincipalOf(http.Caller().UserId), http.HttpContext.RequestAborted);
        return Results.Ok(AgentResponse.From(agent, http));
    }
}
