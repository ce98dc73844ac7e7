using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Everruns.Contracts;
using Everruns.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Everruns.Modules.Events;

/// <summary>
/// GET /v1/sessions/{id}/export — the session as JSON Lines (<c>application/x-ndjson</c>, an attachment named
/// <c>{session_id}.jsonl</c>). <c>format=jsonl</c> (the default): one line per message, user and agent, oldest first,
/// as the message list shows it (<c>id, session_id, sequence, role, content, created_at</c>, then whatever else the
/// message carries). <c>format=events</c>: one line per stored event, as the events API shows it. Any other format
/// (<c>atif</c>) is refused with 400 <c>unsupported_format</c>.
/// <para>
/// Streamed: the events are read <see cref="PageSize"/> at a time by sequence (a keyset, not an offset) and each page is
/// written and flushed before the next is read, so an export holds one page in memory however long the session.
/// </para>
/// </summary>
public static class ExportSessionEndpoint
{
    public const int PageSize = 500;

    /// <summary>One line of the default format (the schema the document shows; <c>format=events</c> lines are Events).</summary>
    public sealed record ExportedMessage(string Id, string SessionId, long Sequence, string Role, JsonArray Content, string CreatedAt);

    private static readonly EventFilter Messages = new([EventTypes.InputMessage, EventTypes.OutputMessageCompleted], [], null);

    private static readonly JsonWriterOptions Writer = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static void Map(IEndpointRouteBuilder endpoints) =>
        endpoints.MapGet("/v1/sessions/{id}/export", Export)
            .Produces<ExportedMessage>(StatusCodes.Status200OK, "application/x-ndjson")
            .WithDescription("The session as JSON Lines: `format=jsonl` (default) one message a line, `format=events` one stored event a line; " +
                             "other formats are 400 `unsupported_format`.");

    public static async Task Export(string id, HttpContext http, ISessionDirectory sessions, SessionEventReader reader)
    {
        var ct = http.RequestAborted;
        if (await InputRules.ExistingSession(sessions, http.Caller().Org, id, ct) is { } missing)
        {
            await Problems.Result(missing).ExecuteAsync(http);
            return;
        }

        var format = http.Request.Query["format"].ToString();
        if (format.Length == 0) format = "jsonl";
        if (format is not ("jsonl" or "events"))
        {
            var problem = Problems.BadRequest("unsupported_format", $"format '{format}' is not supported: jsonl (the default) or events");
            problem.Extensions["path"] = "format";
            await Problems.Result(problem).ExecuteAsync(http);
            return;
        }

        var response = http.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/x-ndjson";
        response.Headers.ContentDisposition = $"attachment; filename=\"{id}.jsonl\"";
        response.Headers.CacheControl = "no-store";
        var body = response.BodyWriter;
        await using var json = new Utf8JsonWriter(body, Writer);
        var filter = format == "events" ? EventFilter.All : Messages;
        var after = 0L;
        while (true)
        {
            var page = await reader.ReadForwardAsync(id, after, PageSize, filter, ct);
            foreach (var e in page.Events)
            {
                if (format == "events")
                {
                    e.Envelope.WriteTo(json);
                }
                else if (Message(e, id) is { } message)
                {
                    message.WriteTo(json);
                }
                else continue;

                json.Flush();
                json.Reset();
                body.Write("\n"u8);
            }

            await body.FlushAsync(ct);
            if (page.Events.Count < PageSize) break;
            after = page.Events[^1].Sequence;
        }
    }

    /// <summary>The event's message, as the message list shows it, its members in the export's order.</summary>
    private static JsonObject? Message(StoredEvent e, string sessionId)
    {
        if (e.Envelope["data"] is not JsonObject data || SessionEventReader.Take(data, "message") is not JsonObject stored) return null;
        var message = new JsonObject
        {
            ["id"] = SessionEventReader.Take(stored, "id"),
            ["session_id"] = sessionId,
            ["sequence"] = e.Sequence,
            ["role"] = SessionEventReader.Take(stored, "role"),
            ["content"] = SessionEventReader.Take(stored, "content"),
            ["created_at"] = SessionEventReader.Take(stored, "created_at"),
        };
        stored.Remove("session_id");
        stored.Remove("sequence");
        foreach (var key in stored.Select(p => p.Key).ToList()) message[key] = SessionEventReader.Take(stored, key);
        return message;
    }
}
