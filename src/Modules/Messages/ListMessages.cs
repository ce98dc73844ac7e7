using System.Text.Json.Nodes;
using Everruns.Contracts;
using Microsoft.AspNetCore.Http;
using Wolverine;
using Wolverine.Http;

namespace Everruns.Modules.Messages;

/// <summary>
/// GET /v1/sessions/{id}/messages — the conversation rebuilt from the session's events: user messages
/// (<c>input.message</c>) and agent messages (<c>output.message.completed</c>), oldest first, each with the
/// sequence of its event. <c>offset</c>/<c>limit</c> page it; the page is also under <c>messages</c>, the key the
/// TypeScript SDK reads.
/// </summary>
public static class ListMessagesEndpoint
{
    private static readonly string[] MessageTypes = [EventTypes.InputMessage, EventTypes.OutputMessageCompleted];

    [WolverineGet("/v1/sessions/{id}/messages")]
    public static async Task<IResult> Get(string id, HttpRequest http, IMessageBus bus, CancellationToken ct)
    {
        if (await InputRules.ExistingSession(bus, http.Caller().Org, id, ct) is { } missing) return Problems.Result(missing);
        var (offset, offsetProblem) = Query.Int(http, "offset");
        if (offsetProblem is not null) return Problems.Result(offsetProblem);
        var (limit, limitProblem) = Query.Int(http, "limit");
        if (limitProblem is not null) return Problems.Result(limitProblem);
        if (offset is < 0) return Problems.Result(Problems.BadRequest("invalid_offset", "offset must be 0 or more"));
        if (limit is < 1) return Problems.Result(Problems.BadRequest("invalid_limit", "limit must be 1 or more"));

        var read = await bus.InvokeAsync<SessionEventsRead>(new ReadSessionEvents(id, MessageTypes), ct);
        var all = read.Events
            .Where(e => e.Data["message"] is JsonObject)
            .Select(e =>
            {
                var message = e.Data["message"]!.AsObject().DeepClone().AsObject();
                message["session_id"] = id;
                message["sequence"] = e.Sequence;
                return (JsonNode)message;
            })
            .ToList();
        var page = all.Skip(offset ?? 0).Take(limit ?? all.Count).Select(m => m.DeepClone()).ToArray();
        return Results.Ok(new JsonObject
        {
            ["data"] = new JsonArray(page),
            ["messages"] = new JsonArray(page.Select(m => m!.DeepClone()).ToArray()),
            ["total"] = all.Count,
            ["offset"] = offset ?? 0,
            ["limit"] = limit ?? all.Count,
        });
    }
}
