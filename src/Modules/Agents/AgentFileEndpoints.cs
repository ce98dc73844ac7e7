using Everruns.Contracts;
using Everruns.Infrastructure;
using Marten;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Wolverine.Http;

namespace Everruns.Modules.Agents;

/// <summary>
/// An agent as a Markdown file (<see cref="AgentMarkdown"/>): <c>GET /v1/agents/{id}/export</c> writes it,
/// <c>POST /v1/agents/import</c> reads it (or JSON, YAML, plain text; or a built-in example) and creates the agent, or
/// updates the one with the file's id.
/// </summary>
public static class AgentFileEndpoints
{
    public const int MaxFileBytes = 1024 * 1024;

    [WolverineGet("/v1/agents/{id}/export"), ProducesResponseType<string>(StatusCodes.Status200OK, "text/markdown")]
    public static async Task<IResult> Export(string id, IQuerySession documents, HttpRequest http)
    {
        var agent = await AgentLookup.FindByIdOrNameAsync(documents, id, http.HttpContext.RequestAborted);
        if (agent is null) return Problems.Result(AgentLookup.NotFound(id));
        http.HttpContext.Response.Headers.ContentDisposition = $"attachment; filename=\"{AgentMarkdown.FileName(agent)}\"";
        return Results.Text(AgentMarkdown.Write(agent), "text/markdown; charset=utf-8", AgentMarkdown.Utf8);
    }

    /// <summary>
    /// The request body is the file's text (any content type). 201 when created, 200 when the file's <c>id</c> named an
    /// existing agent; 400 <c>invalid_agent_file</c> with the <c>line</c> for what cannot be read or is not allowed.
    /// </summary>
    [WolverinePost("/v1/agents/import"), ProducesResponseType<AgentResponse>(StatusCodes.Status201Created), ProducesResponseType<AgentResponse>(StatusCodes.Status200OK)]
    public static async Task<IResult> Import(IDocumentSession documents, IModelDirectory models, IHarnessDirectory harnesses, IOrgDefaults orgDefaults,
        HttpRequest http)
    {
        string text;
        var example = http.Query["from-example"].ToString();
        if (example.Length > 0)
        {
            if (AgentExamples.Find(example) is not { } found)
                return Problems.Result(Problems.NotFound("example_not_found", $"no agent example is named '{example}' (GET /v1/agent-examples lists them)"));
            text = found;
        }
        else
        {
            if (http.ContentLength > MaxFileBytes) return Problems.Result(TooLarge());
            using var reader = new StreamReader(http.Body, AgentMarkdown.Utf8);
            var buffer = new char[MaxFileBytes + 1];
            var read = await reader.ReadBlockAsync(buffer, http.HttpContext.RequestAborted);
            if (read > MaxFileBytes) return Problems.Result(TooLarge());
            text = new string(buffer, 0, read);
            if (string.IsNullOrWhiteSpace(text))
                return Problems.Result(Problems.BadRequest("invalid_agent_file", "the body is empty: send the agent's Markdown file as the request body"));
        }

        AgentFile file;
        try
        {
            file = AgentMarkdown.Parse(text);
        }
        catch (AgentFileException e)
        {
            return Problems.Result(Invalid(e.Message, e.Line));
        }

        // A name that is not a slug becomes one (and the display name, unless one is given); no name: from the display name, else the time.
        var name = file.Name;
        if (name is not null && !Slugs.IsSlug(name))
        {
            file.DisplayName ??= name;
            name = Slugs.Slugify(name);
        }

        name ??= file.DisplayName is { } display && Slugs.Slugify(display) is { Length: > 0 } slug
            ? slug
            : $"agent-{DateTimeOffset.UtcNow:yyyyMMdd-HHmmss}";
        if (string.IsNullOrWhiteSpace(file.SystemPrompt))
            return Problems.Result(Invalid("the system prompt is required: write it after the front matter", file.Lines.GetValueOrDefault("system_prompt")));

        // An example adopted under a name the org already has gets a suffix.
        if (example.Length > 0)
            name = await Slugs.ExampleNameAsync(name, n => documents.Query<Agent>().AnyAsync(a => a.Name == n, http.HttpContext.RequestAborted));

        var request = new CreateAgentRequest(file.Id, name, file.DisplayName, file.Description, file.SystemPrompt, file.DefaultModelId,
            file.HarnessId, file.HarnessName, file.MaxIterations, file.Capabilities, file.Tags, Tools: file.Tools, ParallelToolCalls: file.ParallelToolCalls,
            InitialFiles: file.InitialFiles);
        if (CreateAgentEndpoint.Validate(request) is var problem && !ReferenceEquals(problem, WolverineContinue.NoProblems))
            return Problems.Result(Invalid($"{problem.Detail}", LineOf(problem, file)));

        var result = await CreateAgentEndpoint.Upsert(request, file.Id, documents, models, harnesses, orgDefaults, http, matchName: false,
            versionKind: AgentVersions.Import);
        return result;
    }

    [WolverineGet("/v1/agent-examples"), ProducesResponseType<IReadOnlyList<string>>(StatusCodes.Status200OK)]
    public static IReadOnlyList<AgentExamples.Summary> Examples() => AgentExamples.List();

    private static int? LineOf(ProblemDetails problem, AgentFile file)
    {
        var code = problem.Extensions.TryGetValue("code", out var c) ? c as string : null;
        string? key = code switch
        {
            "invalid_name" => "name",
            "invalid_agent_id" => "id",
            "invalid_system_prompt" => "system_prompt",
            "harness_id_and_name" => "harness_name",
            "invalid_max_iterations" => "max_iterations",
            "invalid_capability" or "capability_not_supported" or "invalid_capability_config" => "capabilities",
            "invalid_tags" => "tags",
            "invalid_initial_files" => "initial_files",
            "invalid_tools" or "unsupported_tool_type" or "invalid_tool" => "tools",
            _ => file.Lines.Keys.OrderByDescending(k => k.Length).FirstOrDefault(k => problem.Detail?.Contains(k, StringComparison.Ordinal) == true),
        };
        return key is not null && file.Lines.TryGetValue(key, out var line) ? line : null;
    }

    private static ProblemDetails Invalid(string message, int? line)
    {
        var problem = Problems.BadRequest("invalid_agent_file", line is { } l ? $"line {l}: {message}" : message);
        if (line is not null) problem.Extensions["line"] = line;
        return problem;
    }

    private static ProblemDetails TooLarge() =>
        Problems.BadRequest("agent_file_too_large", $"an agent file is at most {MaxFileBytes / 1024} KB");
}

/// <summary>Agents defined in code that an org can adopt (<c>POST /v1/agents/import?from-example=</c>).</summary>
public static class AgentExamples
{
    public sealed record Summary(string Name, string DisplayName, string Description);

    private static readonly (Summary Summary, string File)[] All =
    [
        (new Summary("dad-jokes-agent", "Dad jokes", "Answers everything with a pun, then helps for real."), """
            ---
            name: "dad-jokes-agent"
            display_name: "Dad jokes"
            description: "Answers everything with a pun, then helps for real."
            tags:
            - "example"
            ---
            You open every answer with one short, groan-worthy pun about the question, then answer it properly and briefly.
            """),
        (new Summary("time-keeper", "Time keeper", "Knows the current time and plans around it."), """
            ---
            name: "time-keeper"
            display_name: "Time keeper"
            description: "Knows the current time and plans around it."
            capabilities:
            - ref: "current_time"
            ---
            You help people plan their day. Check the current time before you reason about dates or deadlines.
            """),
    ];

    public static string? Find(string name) => All.FirstOrDefault(e => e.Summary.Name == name).File;

    public static IReadOnlyList<Summary> List() => All.Select(e => e.Summary).ToList();
}
