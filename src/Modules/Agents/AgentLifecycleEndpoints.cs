using System.Text.Json.Nodes;
using Everruns.Contracts;
using Everruns.Infrastructure;
using Marten;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Wolverine;
using Wolverine.Http;

namespace Everruns.Modules.Agents;

public sealed record PreviewAgentRequest(string? SystemPrompt, List<CapabilityRef?>? Capabilities, List<ClientToolDefinition?>? Tools,
    string? HarnessId = null, [property: System.Text.Json.Serialization.JsonPropertyName("mcpServers")] JsonNode? McpServers = null);

public sealed record PreviewFinding(string RuleId, string Severity, string Category, string Message, string Source, string? Fix = null);

public sealed record AgentPreviewTool(string Name, string Source);

public sealed record AgentPreviewResponse(string SystemPrompt, IReadOnlyList<AgentPreviewTool> Tools, IReadOnlyList<PreviewFinding> Findings);

/// <summary>Copy, name checks, what the caller may do, and a preview of what the model would be given.</summary>
public static class AgentLifecycleEndpoints
{
    /// <summary>A copy of the agent as it stands, named <c>{name}-copy</c> (or <c>-copy-2</c>, …), with a version of its own.</summary>
    [WolverinePost("/v1/agents/{id}/copy"), ProducesResponseType<AgentResponse>(StatusCodes.Status201Created)]
    public static async Task<IResult> Copy(string id, IDocumentSession documents, IHarnessDirectory harnesses, IMessageBus bus, HttpRequest http)
    {
        var ct = http.HttpContext.RequestAborted;
        var caller = http.Caller();
        var source = await AgentLookup.FindByIdOrNameAsync(documents, id, ct);
        if (source is null) return Problems.Result(AgentLookup.NotFound(id));
        var now = DateTimeOffset.UtcNow;
        var copy = new Agent
        {
            Id = Ids.New(Ids.Agent), OrgId = source.OrgId,
            Name = await Slugs.CopyNameAsync(source.Name, name => documents.Query<Agent>().AnyAsync(a => a.Name == name, ct)),
            DisplayName = Slugs.CopyDisplayName(source.DisplayName), Description = source.Description, Tags = [.. source.Tags],
            CreatedAt = now, UpdatedAt = now,
        };
        AgentConfig.Of(source).ApplyTo(copy);
        await AgentVersions.RecordAsync(documents, copy, harnesses, Ids.PrincipalOf(caller.UserId), AgentVersions.Auto, published: false,
            $"Copied from {source.Name}", source.LatestVersionId, ct);
        await bus.PublishAsync(new AuditAction(caller.Org, caller.Actor, "agent.copied", copy.Id,
            new Dictionary<string, string> { ["name"] = copy.Name, ["source"] = source.Id }));
        var response = AgentResponse.From(copy, http);
        return Results.Created(response.SelfUrl, response);
    }

    /// <summary>Whether a name is free for an agent (a malformed one is not: <c>available: false</c>).</summary>
    [WolverineGet("/v1/agents/check-name"), ProducesResponseType<CheckNameResponse>(StatusCodes.Status200OK)]
    public static Task<IResult> CheckName(IQuerySession documents, HttpRequest http) =>
        Slugs.CheckNameAsync(http, Ids.Agent, name => documents.Query<Agent>().Where(a => a.Name == name).Select(a => a.Id)
            .FirstOrDefaultAsync(http.HttpContext.RequestAborted));

    /// <summary>What the caller may do with agents: view and manage (members), dangerous changes (org admins).</summary>
    [WolverineGet("/v1/agents/config"), ProducesResponseType<ResourceConfigResponse>(StatusCodes.Status200OK)]
    public static ResourceConfigResponse Config(HttpRequest http) => Slugs.Policies(http, "agent");

    /// <summary>
    /// The system prompt (under its harness's, <c>generic</c> unless named) and the tools the model would be given, with
    /// findings of built-in checks. Nothing is stored.
    /// </summary>
    [WolverinePost("/v1/agents/preview"), ProducesResponseType<AgentPreviewResponse>(StatusCodes.Status200OK)]
    public static async Task<IResult> Preview(PreviewAgentRequest? request, IHarnessDirectory harnesses, HttpRequest http)
    {
        if (request is null) return Problems.Result(Problems.BadRequest("invalid_body", "the request body must be a JSON object"));
        if (request.SystemPrompt is null) return Problems.Result(Problems.BadRequest("invalid_system_prompt", "system_prompt is required"));
        if (InputRules.First(InputRules.Capabilities(request.Capabilities), InputRules.ClientTools(request.Tools),
                InputRules.Unsupported(("mcpServers", request.McpServers))) is { } problem)
            return Problems.Result(problem);
        var (harness, harnessProblem) = await InputRules.HarnessAsync(harnesses, http.Caller().Org, request.HarnessId, null, http.HttpContext.RequestAborted);
        if (harnessProblem is not null) return Problems.Result(harnessProblem);

        var capabilities = request.Capabilities?.Select(c => BuiltInCapabilities.Canonical(c!)).DistinctBy(c => c.Ref).ToList() ?? [];
        var merged = harness?.Under(capabilities) ?? capabilities;
        var tools = merged.SelectMany(c => BuiltInCapabilities.ToolsOf(c.Ref).Select(t => new AgentPreviewTool(t, c.Ref)))
            .Concat(request.Tools?.Select(t => new AgentPreviewTool(t!.Name!, "client_side")) ?? [])
            .DistinctBy(t => t.Name).ToList();
        return Results.Ok(new AgentPreviewResponse(HarnessSnapshot.Compose(harness?.SystemPrompt, request.SystemPrompt), tools,
            Findings(request.SystemPrompt, merged)));
    }

    private static List<PreviewFinding> Findings(string prompt, IReadOnlyList<CapabilityRef> capabilities)
    {
        var findings = new List<PreviewFinding>();
        if (string.IsNullOrWhiteSpace(prompt))
            findings.Add(new("empty_prompt", "warning", "completeness", "The system prompt is empty: the model gets no instructions.", "builtin",
                "Say who the agent is, what it does and how it answers."));
        else if (prompt.Trim().Length < 40)
            findings.Add(new("short_prompt", "suggestion", "effectiveness", "The system prompt is very short; models follow specific instructions better.",
                "builtin", "Add the agent's task, its audience and the form of its answers."));
        if (prompt.Length > 20_000)
            findings.Add(new("long_prompt", "warning", "cost", $"The system prompt is {prompt.Length:N0} characters: it is sent with every model call.",
                "builtin", "Move reference material into initial files the agent reads when it needs them."));
        if (capabilities.Any(c => c.Ref == BuiltInCapabilities.WebFetch))
            findings.Add(new("web_fetch_untrusted", "info", "safety", "web_fetch gives the model text from the web, which may carry instructions of its own.",
                "builtin"));
        return findings;
    }
}
