using System.Text.Json;
using System.Text.Json.Nodes;
using Everruns.Contracts;
using Microsoft.Extensions.AI;

namespace Everruns.Modules.Execution;

/// <summary>
/// Rebuilds the model's view of a session from its events: user input, agent output, tool results. A user
/// message takes its place in the conversation when its turn starts, not when it was posted: messages queued
/// behind a running turn are not part of it, and each later turn sees the answers that came before it.
/// </summary>
public static class Conversation
{
    public static readonly string[] EventTypesRead =
        [EventTypes.InputMessage, EventTypes.TurnStarted, EventTypes.OutputMessageCompleted, EventTypes.ToolCompleted];

    public static List<ChatMessage> Build(string systemPrompt, IEnumerable<RecordedSessionEvent> events)
    {
        var messages = new List<ChatMessage>();
        if (!string.IsNullOrWhiteSpace(systemPrompt)) messages.Add(new ChatMessage(ChatRole.System, systemPrompt));
        var posted = new Dictionary<string, string>();
        foreach (var e in events)
        {
            switch (e.Data)
            {
                // Written within a turn (the user's request to cancel it): in the conversation where it stands.
                case InputMessageReceived input when MessageContent(input.Message) is { } content && e.Context.TurnId is not null:
                    messages.Add(new ChatMessage(ChatRole.User, Text(content)));
                    break;
                case InputMessageReceived input when MessageContent(input.Message) is { } content && e.Context.InputMessageId is { } id:
                    posted[id] = Text(content);
                    break;
                case TurnStarted started when posted.Remove(started.InputMessageId, out var userText):
                    messages.Add(new ChatMessage(ChatRole.User, userText));
                    break;
                case OutputMessageCompleted output when MessageContent(output.Message) is { } content:
                    var parts = new List<AIContent>();
                    var text = Text(content);
                    if (text.Length > 0) parts.Add(new TextContent(text));
                    foreach (var call in content.OfType<JsonObject>().Where(p => (string?)p["type"] == "tool_call"))
                        parts.Add(new FunctionCallContent((string)call["id"]!, (string)call["name"]!, Arguments(call["arguments"])));
                    messages.Add(new ChatMessage(ChatRole.Assistant, parts));
                    break;
                case ToolCompleted tool:
                    var result = tool.Result is { } resultParts ? Text(resultParts) : tool.Error ?? "";
                    messages.Add(new ChatMessage(ChatRole.Tool, [new FunctionResultContent(tool.ToolCallId, result)]));
                    break;
            }
        }

        return WithoutUnansweredCalls(messages);
    }

    /// <summary>A call whose turn was cancelled before its tool ran has no result; providers reject such a history.</summary>
    private static List<ChatMessage> WithoutUnansweredCalls(List<ChatMessage> messages)
    {
        var answered = messages.SelectMany(m => m.Contents.OfType<FunctionResultContent>()).Select(r => r.CallId).ToHashSet();
        foreach (var message in messages.Where(m => m.Role == ChatRole.Assistant))
            foreach (var call in message.Contents.OfType<FunctionCallContent>().Where(c => !answered.Contains(c.CallId)).ToList())
                message.Contents.Remove(call);
        return messages.Where(m => m.Contents.Count > 0).ToList();
    }

    private static JsonArray? MessageContent(JsonObject message) => message["content"] as JsonArray;

    private static string Text(JsonArray content) =>
        string.Join("\n", content.OfType<JsonObject>().Where(p => (string?)p["type"] == "text").Select(p => (string?)p["text"] ?? ""));

    private static Dictionary<string, object?> Arguments(JsonNode? arguments) =>
        arguments is JsonObject obj
            ? obj.ToDictionary(p => p.Key, p => (object?)(p.Value is null ? null : JsonSerializer.Deserialize<JsonElement>(p.Value.ToJsonString())))
            : [];
}
