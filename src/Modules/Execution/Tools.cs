using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Everruns.Contracts;
using Everruns.Infrastructure;
using Marten;
using Microsoft.Extensions.AI;

namespace Everruns.Modules.Execution;

/// <summary>
/// What a built-in tool runs with: its session, and the tools step's own document session, in whose transaction (the
/// one that commits the calls' <c>tool.completed</c>) a tool's writes commit. <see cref="Storage"/>: the session
/// storage as the calls of this step left it, so that a later call of the same answer reads an earlier one's write.
/// </summary>
public sealed class ToolContext(string sessionId, IDocumentSession documents, string? workspaceId = null, IReadOnlyList<MemoryMount>? mounts = null)
{
    public string SessionId { get; } = sessionId;
    public string OrgId => Documents.TenantId;
    public IDocumentSession Documents { get; } = documents;
    public Dictionary<string, StoredValue?> Storage { get; } = new(StringComparer.Ordinal);

    /// <summary>The session's workspace (the file tools'); null for a session opened before workspaces existed.</summary>
    public string? WorkspaceId { get; } = workspaceId;

    /// <summary>The memories mounted into the session's files (the <c>memory</c> capability).</summary>
    public IReadOnlyList<MemoryMount> Mounts { get; } = mounts ?? [];

    /// <summary>The tools step's connection, in its transaction under the session's lock: set when the file tools run.</summary>
    public Npgsql.NpgsqlConnection? Connection { get; set; }

    /// <summary>The files the calls changed: each sends <c>file.written</c> when the step commits.</summary>
    public List<FileWritten> Writes { get; } = [];

    public void Changed(FileOutcome outcome, string operation) =>
        Writes.Add(new FileWritten(WorkspaceId!, outcome.Entry!.Path, operation, outcome.Entry.SizeBytes, outcome.Created));
}

/// <summary>A built-in tool: the capability that enables it, how the model sees it, and what runs it.</summary>
public sealed record BuiltInTool(string Name, string Capability, AIFunctionDeclaration Declaration,
    Func<JsonObject, ToolContext, CancellationToken, Task<string>> Run)
{
    /// <summary>Runs when the tools step commits, in its transaction (the file tools): see <see cref="FinishTools"/>.</summary>
    public bool Transactional { get; init; }

    public string Description => Declaration.Description;
    public JsonElement Parameters => Declaration.JsonSchema;
}

/// <summary>The tools behind the built-in capabilities, offered to the model and run by the Acting step.</summary>
public sealed class Tools
{
    private readonly Dictionary<string, BuiltInTool> _byName;

    public Tools(TimeProvider clock, WebFetch web, IWorkspaceFiles files)
    {
        var currentTime = AIFunctionFactory.Create(
            (string? timezone = null) => CurrentTime(clock, timezone),
            BuiltInCapabilities.CurrentTime,
            "Returns the current date and time: UTC, and local time in the given IANA time zone (e.g. Europe/Kyiv) when one is given.");
        BuiltInTool[] all =
        [
            new(BuiltInCapabilities.CurrentTime, BuiltInCapabilities.CurrentTime, currentTime, async (arguments, _, ct) =>
                Text(await currentTime.InvokeAsync(new AIFunctionArguments(arguments.ToDictionary(
                    p => p.Key, p => (object?)(p.Value is null ? null : JsonSerializer.Deserialize<JsonElement>(p.Value.ToJsonString())))), ct))),
            new(BuiltInCapabilities.WebFetch, BuiltInCapabilities.WebFetch, Declare(BuiltInCapabilities.WebFetch,
                    "Fetches a web page or document over HTTP(S) GET and returns its text (HTML as readable text, JSON as is), at most 1 MiB.",
                    """{"type":"object","properties":{"url":{"type":"string","description":"The http(s) URL to fetch"}},"required":["url"]}"""),
                (arguments, _, ct) => web.FetchAsync(Required(arguments, "url"), ct)),
            .. SessionStorage.Tools(),
            .. FileTools.All(files),
        ];
        _byName = all.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    /// <summary>Whether a call's tool runs at the step's commit (<see cref="BuiltInTool.Transactional"/>).</summary>
    public bool RunsAtCommit(string toolName) => _byName.GetValueOrDefault(toolName)?.Transactional == true;

    /// <summary>The built-in tools, by capability (what <c>GET /v1/capabilities</c> lists).</summary>
    public IEnumerable<BuiltInTool> Of(string capability) => _byName.Values.Where(t => t.Capability == capability);

    public static AIFunctionDeclaration Declare(string name, string description, string schema) =>
        AIFunctionFactory.CreateDeclaration(name, description, JsonDocument.Parse(schema).RootElement.Clone());

    /// <summary>How a timeline shows a tool: its name in words (<c>current_time</c> is "Current time").</summary>
    public static string DisplayName(string toolName)
    {
        var words = toolName.Replace('_', ' ').Replace('-', ' ').Trim();
        return words.Length == 0 ? toolName : char.ToUpperInvariant(words[0]) + words[1..];
    }

    /// <summary>
    /// What the model is offered: the tools of the enabled capabilities, and the client's tools, declared by their JSON
    /// Schema (the model calls them alike; the Acting step tells them apart).
    /// </summary>
    public IReadOnlyList<AITool> For(IEnumerable<CapabilityRef> capabilities, IEnumerable<ClientToolDefinition>? clientTools = null)
    {
        var enabled = capabilities.Select(c => c.Ref).ToHashSet(StringComparer.Ordinal);
        return
        [
            .. _byName.Values.Where(t => enabled.Contains(t.Capability)).Select(t => t.Declaration),
            .. (clientTools ?? []).Select(t => AIFunctionFactory.CreateDeclaration(t.Name!, t.Description,
                JsonSerializer.SerializeToElement(t.Parameters))),
        ];
    }

    /// <summary>
    /// Runs a call of a built-in tool whose capability is enabled. A failure (bad arguments, a refused URL, an unknown
    /// tool) is the call's error, which the model sees; it never fails the turn.
    /// </summary>
    public async Task<ToolOutcome> RunAsync(ToolCallRequest call, IEnumerable<CapabilityRef> enabled, ToolContext context, CancellationToken ct)
    {
        var watch = Stopwatch.StartNew();
        var tool = _byName.GetValueOrDefault(call.Name);
        if (tool is null || enabled.All(c => c.Ref != tool.Capability))
            return new ToolOutcome(call.Id, call.Name, false, "error", null, $"unknown tool '{call.Name}'", watch.ElapsedMilliseconds);
        try
        {
            var text = await tool.Run(call.Arguments, context, ct);
            return new ToolOutcome(call.Id, call.Name, true, "success", text, null, watch.ElapsedMilliseconds);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            if (Everruns.Infrastructure.TransientDatabaseErrors.IsTransient(e)) throw; // the step is retried, not the tool's failure
            return new ToolOutcome(call.Id, call.Name, false, "error", null, e.Message, watch.ElapsedMilliseconds);
        }
    }

    /// <summary>A required string argument, or an error the model reads.</summary>
    public static string Required(JsonObject arguments, string name) =>
        arguments[name] is JsonValue value && value.TryGetValue<string>(out var text) && text.Length > 0
            ? text
            : throw new ArgumentException($"the argument '{name}' (a string) is required");

    private static string Text(object? result) => result switch
    {
        null => "",
        string s => s,
        JsonElement element when element.ValueKind == JsonValueKind.String => element.GetString()!,
        _ => JsonSerializer.Serialize(result),
    };

    private static string CurrentTime(TimeProvider clock, string? timezone)
    {
        var now = clock.GetUtcNow();
        var result = new JsonObject { ["utc"] = now.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'"), ["unix"] = now.ToUnixTimeSeconds() };
        if (!string.IsNullOrWhiteSpace(timezone))
        {
            // An unknown zone is the model's mistake to correct, reported as a failed call.
            var zone = TimeZoneInfo.FindSystemTimeZoneById(timezone);
            result["timezone"] = timezone;
            result["local"] = TimeZoneInfo.ConvertTime(now, zone).ToString("yyyy-MM-dd'T'HH:mm:sszzz");
        }

        return result.ToJsonString();
    }
}
