using System.Text.Json.Nodes;

namespace Everruns.Contracts;

/// <summary>
/// A tool an agent or session declares and its client runs (the public API's <c>ToolDefinition</c> of
/// <c>"type":"client_side"</c>): the model is offered it like any tool; when the model calls it, the turn waits, durably,
/// for the client to post the result (<c>POST /v1/sessions/{id}/tool-results</c>). <paramref name="Parameters"/> is the
/// JSON Schema of its arguments; <paramref name="DisplayName"/>, <paramref name="Category"/> and <paramref name="Hints"/>
/// are kept and shown as given; <paramref name="Deferrable"/> may only say <c>never</c> (this server offers every tool
/// up front).
/// </summary>
public sealed record ClientToolDefinition(
    string? Type, string? Name, string? Description, JsonNode? Parameters, string? DisplayName = null, string? Category = null,
    JsonObject? Hints = null, string? Deferrable = null)
{
    public const string ClientSide = "client_side";
    public const int MaxTools = 50;
    public const int MaxNameLength = 64;
    public const int MaxDescriptionBytes = 1024;
    public const int MaxParametersBytes = 10 * 1024;

    /// <summary>
    /// Declarations under the field's earlier name (<c>client_tools</c>), whose entries said <c>"type":"client"</c> or
    /// nothing: the same tools, as <c>client_side</c>.
    /// </summary>
    public static List<ClientToolDefinition?>? FromLegacy(List<ClientToolDefinition?>? legacy) =>
        legacy?.Select(t => t is { Type: null or "client" } ? t with { Type = ClientSide } : t).ToList();
}

/// <summary>One item of <c>tool.call_requested</c>'s <c>tool_summaries</c>: a call as a person reads it.</summary>
public sealed record ToolCallSummary(string Id, string Name, string? DisplayName);

/// <summary>
/// The model called tools the client runs: the turn waits (the session is <c>waiting_for_tool_results</c>) until the client
/// posts their results. <paramref name="ToolCalls"/> carry the parsed arguments.
/// </summary>
[EventType(EventTypes.ToolCallRequested)]
public sealed record ToolCallRequested(IReadOnlyList<ToolCallRef> ToolCalls, IReadOnlyList<ToolCallSummary> ToolSummaries, string Headline)
    : ISessionEventData;
