using System.Text.Json;
using System.Text.Json.Nodes;
using Everruns.Contracts;
using Everruns.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Wolverine;
using Wolverine.Http;

namespace Everruns.Modules.Messages;

/// <summary>
/// POST /v1/sessions/{id}/messages body: <c>{"message":{"role":"user","content":[{"type":"text","text":"..."}]}}</c>;
/// <c>content</c> may also be a plain string. Execution (<see cref="AcceptMessage"/>) appends <c>input.message</c> and
/// starts a turn with it, or queues it behind the running one, in one transaction.
/// </summary>
public static class PostMessageEndpoint
{
    public const int MaxTextLength = 100_000;

    /// <summary>
    /// The body: the message, and its <paramref name="Tags"/> and <paramref name="Metadata"/> (kept with it, shown on the
    /// message). The public API's turn routing fields are not supported: set, they are refused.
    /// </summary>
    public sealed record PostMessageRequest(JsonObject? Message, List<string?>? Tags = null, JsonObject? Metadata = null,
        JsonNode? Controls = null, JsonNode? ExternalActor = null, JsonNode? AddressedParticipantId = null);

    public const int MaxMetadataBytes = 16 * 1024;

    public static ProblemDetails Validate(PostMessageRequest? request)
    {
        if (request?.Message is null)
            return Problems.BadRequest("invalid_message", "message is required: {\"message\":{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"...\"}]}}");
        return InputRules.First(
                   InputContent.Parse(request.Message).Problem,
                   InputRules.Tags(request.Tags),
                   request.Metadata is { } metadata && System.Text.Encoding.UTF8.GetByteCount(metadata.ToJsonString()) > MaxMetadataBytes
                       ? Problems.BadRequest("invalid_metadata", $"metadata is at most {MaxMetadataBytes} bytes of JSON")
                       : null,
                   InputRules.Unsupported(("controls", request.Controls), ("external_actor", request.ExternalActor),
                       ("addressed_participant_id", request.AddressedParticipantId)))
               ?? WolverineContinue.NoProblems;
    }

    [WolverinePost("/v1/sessions/{id}/messages"), Idempotent, ProducesResponseType<MessageResponse>(StatusCodes.Status201Created)]
    public static async Task<IResult> Post(string id, PostMessageRequest request, ISessionDirectory sessions, IMessageBus bus, HttpContext http)
    {
        var (missing, found) = await InputRules.LiveSession(sessions, http.Caller().Org, id);
        if (missing is not null) return Problems.Result(missing);

        var (content, text, _) = InputContent.Parse(request.Message!);
        var message = new ConversationMessage(Ids.New(Ids.Message), "user", content!, DateTimeOffset.UtcNow);
        var json = MessageJson.From(message, id);
        if (request.Tags is { Count: > 0 } tags) json["tags"] = new JsonArray(tags.Distinct().Select(t => (JsonNode)t!).ToArray());
        if (request.Metadata is { Count: > 0 } metadata) json["metadata"] = metadata.DeepClone();
        var location = $"/v1/sessions/{id}/messages/{message.Id}";
        await bus.InvokeAsync(new AcceptMessage(id, message.Id, json.DeepClone().AsObject(), text!, found!.Runtime,
            IdempotencyKeys.ResponseFor(http, StatusCodes.Status201Created, location, json)), http.RequestAborted);
        return Results.Created(location, json);
    }
}

/// <summary>What a user may send: text and image parts.</summary>
public static class InputContent
{
    private static readonly HashSet<string> PartTypes = ["text", "image", "image_file"];

    /// <summary>The content parts, their text joined for the model and previews, or the problem with the input.</summary>
    public static (JsonArray? Content, string? Text, ProblemDetails? Problem) Parse(JsonObject message)
    {
        if (message.Select(p => p.Key).FirstOrDefault(k => k is not ("role" or "content")) is { } extra)
        {
            var unknown = Problems.BadRequest("unknown_field", $"'{extra}' is not a field this server accepts in a message (role, content)");
            unknown.Extensions["path"] = "$.message." + extra;
            return (null, null, unknown);
        }

        if (message["role"] is { } role && (role.GetValueKind() != JsonValueKind.String || (string)role! != "user"))
            return Fail("invalid_role", "only user messages can be posted (role must be \"user\")");

        var content = message["content"];
        if (content is JsonValue value && value.GetValueKind() == JsonValueKind.String)
            content = new JsonArray(new JsonObject { ["type"] = "text", ["text"] = (string)value! });
        if (content is not JsonArray parts || parts.Count == 0)
            return Fail("invalid_content", "content must be a non-empty string or array of content parts");

        var texts = new List<string>();
        var copy = new JsonArray();
        foreach (var part in parts)
        {
            if (part is not JsonObject obj || obj["type"] is not JsonValue typeValue || typeValue.GetValueKind() != JsonValueKind.String)
                return Fail("invalid_content", "each content part must be an object with a type");
            var type = (string)typeValue!;
            if (!PartTypes.Contains(type))
                return Fail("invalid_content", $"unsupported content part type '{type}' (text, image, image_file)");
            if (type == "text")
            {
                if (obj["text"] is not JsonValue textValue || textValue.GetValueKind() != JsonValueKind.String)
                    return Fail("invalid_content", "a text part needs a text string");
                texts.Add((string)textValue!);
            }

            copy.Add(obj.DeepClone());
        }

        var text = string.Join("\n", texts);
        if (text.Length > MaxText)
            return Fail("message_too_long", $"message text is at most {MaxText} characters");
        if (string.IsNullOrWhiteSpace(text) && texts.Count == parts.Count)
            return Fail("invalid_content", "the message has no text");
        return (copy, text, null);
    }

    private const int MaxText = PostMessageEndpoint.MaxTextLength;

    private static (JsonArray?, string?, ProblemDetails?) Fail(string code, string detail) => (null, null, Problems.BadRequest(code, detail));
}

/// <summary>
/// The Message resource (the schema of what <see cref="MessageJson"/> writes, and of the messages events carry): its
/// content parts (<c>text</c>, <c>image</c>, <c>tool_call</c>, <c>tool_result</c>...), and in a list the sequence of its event.
/// </summary>
public sealed record MessageResponse(string Id, string SessionId, string Role, JsonArray Content, DateTimeOffset CreatedAt,
    long? Sequence, string? Phase, JsonObject? Controls, JsonObject? Metadata, IReadOnlyList<string>? Tags);

/// <summary>The Message resource as JSON (snake_case, like every event payload).</summary>
public static class MessageJson
{
    public static JsonObject From(ConversationMessage message, string sessionId, long? sequence = null)
    {
        var json = new JsonObject
        {
            ["id"] = message.Id,
            ["session_id"] = sessionId,
            ["role"] = message.Role,
            ["content"] = message.Content.DeepClone(),
            ["created_at"] = message.CreatedAt.ToString("O"),
        };
        if (sequence is not null) json["sequence"] = sequence;
        return json;
    }
}
