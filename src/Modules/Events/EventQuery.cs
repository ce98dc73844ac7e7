using Everruns.Contracts;
using Everruns.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace Everruns.Modules.Events;

/// <summary>
/// Reads the event filters. <c>types</c>/<c>exclude</c> (repeated keys) take any type name: a type this server never
/// writes (another build's, or a client's newer one such as <c>voice.input_transcript.delta</c>) simply matches nothing.
/// <c>exec_id</c>, <c>trace_id</c> and <c>tags</c> (repeated, any-match) filter on the event's context likewise.
/// </summary>
public static class EventQuery
{
    public const int MaxTypesPerParameter = 25;

    public static (EventFilter Filter, ProblemDetails? Problem) Filter(HttpRequest request)
    {
        var types = request.Query["types"].Where(t => !string.IsNullOrEmpty(t)).Select(t => t!).Distinct().ToList();
        var exclude = request.Query["exclude"].Where(t => !string.IsNullOrEmpty(t)).Select(t => t!).Distinct().ToList();
        foreach (var (name, values) in new[] { ("types", types), ("exclude", exclude) })
        {
            if (values.Count > MaxTypesPerParameter)
                return (EventFilter.All, Problems.BadRequest("invalid_event_filter", $"{name} takes at most {MaxTypesPerParameter} values"));
        }

        var (fromTs, fromProblem) = Timestamp(request, "from_ts");
        if (fromProblem is not null) return (EventFilter.All, fromProblem);
        var (toTs, toProblem) = Timestamp(request, "to_ts");
        if (toProblem is not null) return (EventFilter.All, toProblem);

        return (new EventFilter(types.Count > 0 ? types : null, exclude, NonEmpty(request, "turn_id"))
        {
            FromTs = fromTs,
            ToTs = toTs,
            ToolName = NonEmpty(request, "tool_name"),
            Text = NonEmpty(request, "q"),
            // Context fields this server's own events do not carry (yet): a filter on them selects only events that do.
            ExecId = NonEmpty(request, "exec_id"),
            TraceId = NonEmpty(request, "trace_id"),
            Tags = request.Query["tags"].Where(t => !string.IsNullOrEmpty(t)).Select(t => t!).Distinct().ToList() is { Count: > 0 } tags
                ? tags
                : null,
        }, null);
    }

    private static string? NonEmpty(HttpRequest request, string key) =>
        request.Query[key].ToString() is { Length: > 0 } value ? value : null;

    private static (DateTimeOffset? Value, ProblemDetails? Problem) Timestamp(HttpRequest request, string key)
    {
        if (NonEmpty(request, key) is not { } raw) return (null, null);
        return DateTimeOffset.TryParse(raw, System.Globalization.CultureInfo.InvariantCulture,
            System.Globalization.DateTimeStyles.AssumeUniversal, out var value)
            ? (value, null)
            : (null, Problems.BadRequest($"invalid_{key}", $"{key} must be an RFC 3339 timestamp, got '{raw}'"));
    }

    /// <summary>since_id resolved to its sequence within the session, or a 400 when it is not one of its events.</summary>
    public static async Task<(long? Sequence, ProblemDetails? Problem)> Since(SessionEventReader reader, string sessionId,
        string? sinceId, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(sinceId)) return (null, null);
        if (!Ids.IsValid(sinceId, Ids.Event))
            return (null, Problems.BadRequest("invalid_since_id", $"'{sinceId}' is not an event id (event_<32 hex>)"));
        var sequence = await reader.SequenceOfAsync(sessionId, sinceId, ct);
        return sequence is null
            ? (null, Problems.BadRequest("invalid_since_id", $"event {sinceId} is not an event of session {sessionId}"))
            : (sequence, null);
    }
}
