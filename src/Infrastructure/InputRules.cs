using Everruns.Contracts;
using Microsoft.AspNetCore.Mvc;

namespace Everruns.Infrastructure;

/// <summary>Input rules agents and sessions share; each answers with the problem to return, or null.</summary>
public static class InputRules
{
    public static ProblemDetails? Capabilities(IEnumerable<CapabilityRef?>? capabilities)
    {
        foreach (var capability in capabilities ?? [])
        {
            if (capability is null || string.IsNullOrEmpty(capability.Ref))
                return Problems.BadRequest("invalid_capability", "each capability needs a ref");
            if (!BuiltInCapabilities.IsKnown(capability.Ref))
                return Problems.BadRequest("capability_not_supported",
                    $"capability '{capability.Ref}' is not supported by this server (GET /v1/capabilities lists those it has)");
            if (capability.Ref == MemoryMounts.Capability && MemoryMounts.Parse(capability.Config).Problem is { } mountProblem)
                return Problems.BadRequest("invalid_capability_config", mountProblem);
        }

        return null;
    }

    /// <summary>
    /// Client-side tool declarations (<c>tools</c>): at most 50, each <c>"type":"client_side"</c> with a name (letters,
    /// digits, <c>_</c> and <c>-</c>, at most 64, not <c>mcp_...</c>, no built-in tool's, each once), a description (at most
    /// 1 KB) and a JSON Schema object of parameters (at most 10 KB). <paramref name="alongside"/>: tools already declared
    /// (a session's agent's), which a name may not repeat.
    /// </summary>
    public static ProblemDetails? ClientTools(IReadOnlyList<ClientToolDefinition?>? tools, IEnumerable<ClientToolDefinition>? alongside = null)
    {
        if (tools is null) return null;
        var taken = (alongside ?? []).Select(t => t.Name!).ToHashSet(StringComparer.Ordinal);
        if (tools.Count + taken.Count > ClientToolDefinition.MaxTools)
            return Invalid($"at most {ClientToolDefinition.MaxTools} tools may be declared ({taken.Count} come from the agent)", "tools");
        for (var i = 0; i < tools.Count; i++)
        {
            var at = $"tools[{i}]";
            if (tools[i] is not { } tool) return Invalid($"{at} must be a tool definition object", at);
            if (tool.Type != ClientToolDefinition.ClientSide)
                return tool.Type is null
                    ? Invalid($"{at}.type is required: \"client_side\"", $"{at}.type")
                    : Problems.BadRequest("unsupported_tool_type",
                        $"{at}.type '{tool.Type}' is not supported: declare tools the client runs as \"client_side\"; the server's own tools are enabled with capabilities");
            if (string.IsNullOrEmpty(tool.Name) || tool.Name.Length > ClientToolDefinition.MaxNameLength || !tool.Name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-'))
                return Invalid($"{at}.name must be 1 to {ClientToolDefinition.MaxNameLength} letters, digits, '_' or '-'", $"{at}.name");
            if (tool.Name.StartsWith("mcp_", StringComparison.Ordinal))
                return Invalid($"{at}.name must not use the reserved mcp_ prefix", $"{at}.name");
            if (BuiltInCapabilities.IsToolName(tool.Name))
                return Invalid($"{at}.name '{tool.Name}' is the name of a built-in tool", $"{at}.name");
            if (!taken.Add(tool.Name))
                return Problems.BadRequest("duplicate_tool_name", $"{at}.name: a tool named '{tool.Name}' is already declared");
            if (string.IsNullOrWhiteSpace(tool.Description) || System.Text.Encoding.UTF8.GetByteCount(tool.Description) > ClientToolDefinition.MaxDescriptionBytes)
                return Invalid($"{at}.description is required, at most {ClientToolDefinition.MaxDescriptionBytes} bytes", $"{at}.description");
            if (tool.Parameters is not System.Text.Json.Nodes.JsonObject parameters)
                return Invalid($"{at}.parameters is required: a JSON Schema object such as {{\"type\":\"object\",\"properties\":{{...}}}}", $"{at}.parameters");
            if (parameters["type"] is { } type && type.ToString() != "object")
                return Invalid($"{at}.parameters must describe an object (\"type\":\"object\")", $"{at}.parameters.type");
            if (System.Text.Encoding.UTF8.GetByteCount(parameters.ToJsonString()) > ClientToolDefinition.MaxParametersBytes)
                return Invalid($"{at}.parameters is at most {ClientToolDefinition.MaxParametersBytes} bytes of JSON", $"{at}.parameters");
            if (tool.DisplayName is { Length: > 128 })
                return Invalid($"{at}.display_name is at most 128 characters", $"{at}.display_name");
            if (tool.Deferrable is not (null or "never"))
                return Problems.BadRequest("unsupported_field",
                    $"{at}.deferrable '{tool.Deferrable}' is not supported: this server offers every tool to the model up front (only \"never\")");
        }

        return null;

        static ProblemDetails Invalid(string detail, string path)
        {
            var problem = Problems.BadRequest("invalid_tools", detail);
            problem.Extensions["path"] = "$." + path;
            return problem;
        }
    }

    /// <summary>
    /// Fields of the public API this server does not implement (yet): absent, null or empty (<c>[]</c>, <c>{}</c>,
    /// <c>false</c>), as the SDKs send them by default, they are accepted; set to anything else, refused with 400
    /// <c>unsupported_field</c> naming the first, never dropped.
    /// </summary>
    public static ProblemDetails? Unsupported(params (string Field, System.Text.Json.Nodes.JsonNode? Value)[] fields)
    {
        foreach (var (field, value) in fields)
        {
            if (value is null or System.Text.Json.Nodes.JsonArray { Count: 0 } or System.Text.Json.Nodes.JsonObject { Count: 0 }) continue;
            if (value is System.Text.Json.Nodes.JsonValue v && v.GetValueKind() is System.Text.Json.JsonValueKind.False or System.Text.Json.JsonValueKind.Null) continue;
            var problem = Problems.BadRequest("unsupported_field",
                $"'{field}' is not supported by this server: leave it out, or empty (the README lists the fields it honours)");
            problem.Extensions["path"] = "$." + field;
            return problem;
        }

        return null;
    }

    /// <summary>The shape of <c>initial_files</c>: each with a path and content (text, or base64 with its encoding).</summary>
    public static ProblemDetails? InitialFiles(IReadOnlyList<InitialFile?>? files)
    {
        for (var i = 0; i < (files?.Count ?? 0); i++)
        {
            if (files![i] is not { Path: { Length: > 0 }, Content: not null } file)
                return Problems.BadRequest("invalid_initial_files", $"initial_files[{i}] needs a path and content");
            if (file.Encoding is not (null or "text" or "base64"))
                return Problems.BadRequest("invalid_initial_files", $"initial_files[{i}].encoding must be \"text\" or \"base64\"");
        }

        return files is { Count: > 1000 } ? Problems.BadRequest("invalid_initial_files", "at most 1000 initial files") : null;
    }

    /// <summary>The shape of a harness choice: an id or a name, not both (<see cref="HarnessAsync"/> finds it).</summary>
    public static ProblemDetails? Harness(string? harnessId, string? harnessName) =>
        harnessId is not null && harnessName is not null
            ? Problems.BadRequest("harness_id_and_name", "give harness_id or harness_name, not both")
            : null;

    /// <summary>
    /// The org's active harness named by <paramref name="harnessId"/> or <paramref name="harnessName"/> (null, null when
    /// neither is given); 400 <c>unknown_harness</c> when the org has none such, 409 <c>harness_archived</c> when it is archived.
    /// </summary>
    public static async Task<(HarnessSnapshot? Harness, ProblemDetails? Problem)> HarnessAsync(IHarnessDirectory harnesses, string orgId,
        string? harnessId, string? harnessName, CancellationToken ct = default)
    {
        if ((harnessId ?? harnessName) is not { } key) return (null, null);
        var harness = await harnesses.FindAsync(orgId, key, ct);
        if (harness is null) return (null, Problems.BadRequest("unknown_harness", $"unknown harness '{key}'"));
        if (harness.Status != HarnessSnapshot.Active)
            return (null, Problems.Conflict("harness_archived", $"harness {harness.Name} is archived: set its status to 'active' to use it"));
        return (harness, null);
    }

    public static ProblemDetails? MaxIterations(int? maxIterations) =>
        maxIterations is < 1 or > 1000
            ? Problems.BadRequest("invalid_max_iterations", "max_iterations must be from 1 to 1000")
            : null;

    public static ProblemDetails? Tags(IEnumerable<string?>? tags) =>
        tags?.Any(t => string.IsNullOrWhiteSpace(t) || t.Length > 64) == true
            ? Problems.BadRequest("invalid_tags", "tags must be non-empty strings of at most 64 characters")
            : null;

    public static ProblemDetails? SessionId(string id) =>
        Ids.IsValid(id, Ids.Session) ? null : Problems.BadRequest("invalid_session_id", $"'{id}' is not a session id (session_<32 hex>)");

    /// <summary>
    /// For modules other than Sessions: the session must be a well-formed id of a live session in the caller's org
    /// (asked of Sessions); otherwise the 400 or 404 to answer with.
    /// </summary>
    public static async Task<ProblemDetails?> ExistingSession(ISessionDirectory sessions, string orgId, string id, CancellationToken ct = default) =>
        (await LiveSession(sessions, orgId, id, ct)).Problem;

    /// <summary>As <see cref="ExistingSession"/>, with what Sessions answered when the session is there.</summary>
    public static async Task<(ProblemDetails? Problem, SessionFound? Found)> LiveSession(ISessionDirectory sessions, string orgId,
        string id, CancellationToken ct = default)
    {
        if (SessionId(id) is { } invalid) return (invalid, null);
        var found = await sessions.FindAsync(orgId, id, ct);
        return found.Session is null ? (Problems.NotFound("session_not_found", $"session {id} not found"), null) : (null, found);
    }

    /// <summary>A model named in a request must be one this server runs (asked of Execution): 404 otherwise.</summary>
    public static async Task<ProblemDetails?> Model(IModelDirectory models, string orgId, string? modelId, CancellationToken ct = default) =>
        modelId is not null && await models.FindAsync(orgId, modelId, ct) is null
            ? Problems.NotFound("model_not_found", $"model '{modelId}' is not available on this server (GET /v1/models lists them)")
            : null;

    public static ProblemDetails? First(params ProblemDetails?[] problems) => problems.FirstOrDefault(p => p is not null);
}
