using System.Text.Json.Nodes;
using Everruns.Contracts;
using Everruns.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
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
    /// <summary>A page of messages, under <c>data</c> and again under <c>messages</c>.</summary>
    public sealed record MessagePage(IReadOnlyList<MessageResponse> Data, IReadOnlyList<MessageResponse> Messages, long Total, int Offset, int Limit);

    private static readonly string[] MessageTypes = [EventTypes.InputMessage, EventTypes.OutputMessageCompleted];

    [WolverineGet("/v1/sessions/{id}/messages"), ProducesResponseType<MessagePage>(StatusCodes.Status200OK)]
    public static async Task<IResult> Get(string id, HttpRequest http, ISessionDirectory sessions, ISessionEventLog events, CancellationToken ct)
    {
        if (await InputRules.ExistingSession(sessions, http.Caller().Org, id, ct) is { } missing) return Problems.Result(missing);
        var (offset, offsetProblem) = Query.Int(http, "offset");
        if (offsetProblem is not null) return Problems.Result(offsetProblem);
        var (limit, limitProblem) = Query.Int(http, "limit");
        if (limitProblem is not null) return Problems.Result(limitProblem);
        if (offset is < 0) return Problems.Result(Problems.BadRequest("invalid_offset", "offset must be 0 or more"));
        if (limit is < 1) return Problems.Result(Problems.BadRequest("invalid_limit", "limit must be 1 or more"));

        // Paged in the store: a long session's list costs the page, not the session.
        var read = await events.PageAsync(new PageSessionEvents(id, MessageTypes, offset ?? 0, limit ?? int.MaxValue), ct);
        var page = read.Events
            .Select(e => (e, message: e.Data switch
            {
                InputMessageReceived input => input.Message,
                OutputMessageCompleted output => output.Message,
                _ => null,
            }))
            .Where(m => m.message is not null)
            .Select(m =>
            {
                var (e, message) = (m.e, m.message!); // read for this answer alone: changed, not copied
                message["session_id"] = id;
                message["sequence"] = e.Sequence;
                return (JsonNode)message;
            })
            .ToArray();
        return Results.Ok(new JsonObject
        {
            ["data"] = new JsonArray(page),
            ["messages"] = new JsonArray(page.Select(m => m!.DeepClone()).ToArray()),
            ["total"] = read.Total,
            ["offset"] = offset ?? 0,
            ["limit"] = limit ?? (int)Math.Min(int.MaxValue, read.Total),
        });
    }
}
