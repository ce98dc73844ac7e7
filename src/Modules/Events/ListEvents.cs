using System.Text.Json.Nodes;
using Everruns.Contracts;
using Everruns.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Wolverine.Http;

namespace Everruns.Modules.Events;

/// <summary>
/// GET /v1/sessions/{id}/events — pages a session's events, oldest first.
/// Forward: <c>since_id</c> or <c>after_sequence</c> (+ <c>limit</c>, default 100). Backward: <c>limit</c> and/or
/// <c>before_sequence</c> return the last N events before that point. <c>types</c>, <c>exclude</c>, <c>turn_id</c>
/// filter; <c>order_desc=true</c> reverses the page. <c>has_more</c> says whether the page was cut by the limit.
/// </summary>
public static class ListEventsEndpoint
{
    /// <summary>A page of events (the document's schema of what <see cref="Page"/> writes).</summary>
    public sealed record EventPage(IReadOnlyList<EventResponse> Data, long Total, int Offset, int Limit, bool HasMore);

    public const int MaxLimit = 1000;
    public const int MaxUnpaged = 10_000;

    [WolverineGet("/v1/sessions/{id}/events"), ProducesResponseType<EventPage>(StatusCodes.Status200OK)]
    public static async Task<IResult> Get(string id, HttpRequest http, ISessionDirectory sessions, SessionEventReader reader, CancellationToken ct)
    {
        if (await InputRules.ExistingSession(sessions, http.Caller().Org, id) is { } missing) return Problems.Result(missing);
        var (filter, filterProblem) = EventQuery.Filter(http);
        if (filterProblem is not null) return Problems.Result(filterProblem);

        var (limit, limitProblem) = Query.Int(http, "limit");
        if (limitProblem is not null) return Problems.Result(limitProblem);
        if (limit is < 1 or > MaxLimit)
            return Problems.Result(Problems.BadRequest("invalid_limit", $"limit must be from 1 to {MaxLimit}"));
        var (after, afterProblem) = Query.Int(http, "after_sequence");
        if (afterProblem is not null) return Problems.Result(afterProblem);
        var (before, beforeProblem) = Query.Int(http, "before_sequence");
        if (beforeProblem is not null) return Problems.Result(beforeProblem);
        var (orderDesc, orderProblem) = Query.Bool(http, "order_desc");
        if (orderProblem is not null) return Problems.Result(orderProblem);
        var (since, sinceProblem) = await EventQuery.Since(reader, id, http.Query["since_id"].ToString(), ct);
        if (sinceProblem is not null) return Problems.Result(sinceProblem);
        if ((since ?? after) is not null && before is not null)
            return Problems.Result(Problems.BadRequest("invalid_cursor", "use either a forward cursor (since_id/after_sequence) or before_sequence"));
        if (http.Query["around"].ToString() is { Length: > 0 } around)
        {
            if ((since ?? after ?? before) is not null)
                return Problems.Result(Problems.BadRequest("invalid_cursor", "around cannot be combined with since_id, after_sequence or before_sequence"));
            return await AroundAsync(id, around, orderDesc == true, http, reader, filter, ct);
        }

        // Without limit or cursor the whole session is returned (up to MaxUnpaged events; has_more says when cut).
        var pageSize = limit ?? (since is null && after is null && before is null ? MaxUnpaged : MaxLimit);
        IReadOnlyList<StoredEvent> events;
        bool hasMore;
        if (since is not null || after is not null || (before is null && limit is null))
        {
            var slice = await reader.ReadForwardAsync(id, Math.Max(since ?? 0, after ?? 0), pageSize + 1, filter, ct);
            hasMore = slice.Events.Count > pageSize;
            events = slice.Events.Take(pageSize).ToList();
        }
        else
        {
            var slice = await reader.ReadBackwardAsync(id, before, pageSize + 1, filter, ct);
            hasMore = slice.Count > pageSize;
            events = slice.Skip(hasMore ? 1 : 0).ToList();
        }

        return await PageAsync(id, events, pageSize, hasMore, orderDesc == true, limit is not null, http, reader, filter, ct);
    }

    /// <summary>
    /// <c>around</c>: the events on each side of an anchor event (up to <c>window</c>, default 50, at most 500), with the
    /// anchor itself when the filter lets it through, oldest first.
    /// </summary>
    private static async Task<IResult> AroundAsync(string id, string around, bool orderDesc, HttpRequest http, SessionEventReader reader,
        EventFilter filter, CancellationToken ct)
    {
        var (window, windowProblem) = Query.Int(http, "window");
        if (windowProblem is not null) return Problems.Result(windowProblem);
        if (window is < 1 or > MaxWindow)
            return Problems.Result(Problems.BadRequest("invalid_window", $"window must be from 1 to {MaxWindow}"));
        if (!Ids.IsValid(around, Ids.Event))
            return Problems.Result(Problems.BadRequest("invalid_around", $"'{around}' is not an event id (event_<32 hex>)"));
        if (await reader.SequenceOfAsync(id, around, ct) is not { } anchor)
            return Problems.Result(Problems.NotFound("event_not_found", $"event {around} is not an event of session {id}"));

        var side = window ?? DefaultWindow;
        var before = await reader.ReadBackwardAsync(id, anchor + 1, side + 2, filter, ct); // the anchor and `side` before it
        var fromAnchor = before.Count > 0 && before[^1].Sequence == anchor ? 1 : 0;
        var earlier = before.Take(before.Count - fromAnchor).ToList();
        var cutBefore = earlier.Count > side;
        var after = await reader.ReadForwardAsync(id, anchor, side + 1, filter, ct);
        var cutAfter = after.Events.Count > side;
        var events = earlier.Skip(cutBefore ? earlier.Count - side : 0).Concat(before.Skip(before.Count - fromAnchor))
            .Concat(after.Events.Take(side)).ToList();
        return await PageAsync(id, events, 2 * side + 1, cutBefore || cutAfter, orderDesc, false, http, reader, filter, ct);
    }

    public const int DefaultWindow = 50;
    public const int MaxWindow = 500;

    private static async Task<IResult> PageAsync(string id, IReadOnlyList<StoredEvent> events, int pageSize, bool hasMore, bool orderDesc,
        bool countHeader, HttpRequest http, SessionEventReader reader, EventFilter filter, CancellationToken ct)
    {
        if (orderDesc) events = events.Reverse().ToList();
        var (total, withoutDeltas) = await reader.CountsAsync(id, filter, ct);
        // The SDK's contract: the header counts the (filtered) events without the streaming deltas.
        if (countHeader)
            http.HttpContext.Response.Headers["X-Total-Count"] = withoutDeltas.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var data = new JsonArray(events.Select(e => (JsonNode)e.Envelope).ToArray());
        return Results.Ok(new JsonObject
        {
            ["data"] = data,
            ["total"] = total,
            ["offset"] = 0,
            ["limit"] = pageSize,
            ["has_more"] = hasMore,
        });
    }
}
