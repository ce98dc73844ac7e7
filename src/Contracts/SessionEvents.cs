using System.Reflection;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Everruns.Contracts;

/// <summary>
/// The data of one event of the public Everruns protocol. Each event type is a record implementing this, named by
/// <see cref="EventTypeAttribute"/>; it is a Marten event of its own type, appended to the session's stream (stream key =
/// session id), whose version is the per-session <c>sequence</c> (gap-free, strictly increasing). Its id, timestamp and
/// context are the Marten event's metadata; the wire envelope <c>{id, type, ts, session_id, sequence, context, data}</c>
/// is made from them in one place (the Events module's <c>SessionEventEnvelope</c>).
/// </summary>
public interface ISessionEventData;

/// <summary>The protocol's name of an event type (<c>turn.started</c>): Marten's event type name, and the wire's <c>type</c>.</summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class EventTypeAttribute(string name) : Attribute
{
    public string Name { get; } = name;
}

/// <summary>Correlation of an event with the turn and input message it belongs to (the wire's <c>context</c>).</summary>
public sealed record EventContext(string? TurnId = null, string? InputMessageId = null)
{
    public static readonly EventContext None = new();
}

/// <summary>A user's message (the Message resource, as the API shows it) was posted to the session.</summary>
[EventType(EventTypes.InputMessage)]
public sealed record InputMessageReceived(JsonObject Message) : ISessionEventData;

/// <summary>A turn started with the input message <paramref name="InputMessageId"/>.</summary>
[EventType(EventTypes.TurnStarted)]
public sealed record TurnStarted(string TurnId, string InputMessageId, string? InputContent) : ISessionEventData;

/// <summary>
/// The model started answering for iteration <paramref name="Iteration"/> of the turn; <paramref name="MessageId"/> is the id
/// of the message its <c>output.message.completed</c> will carry.
/// </summary>
[EventType(EventTypes.OutputMessageStarted)]
public sealed record OutputMessageStarted(string TurnId, int Iteration, string? Model, string MessageId) : ISessionEventData;

/// <summary>Streamed text of the answer: <paramref name="Delta"/> is new, <paramref name="Accumulated"/> all of it so far.</summary>
[EventType(EventTypes.OutputMessageDelta)]
public sealed record OutputMessageDelta(string TurnId, int Iteration, string Delta, string Accumulated, string MessageId) : ISessionEventData;

/// <summary>
/// The agent's message of one model call (text and tool-call parts), and what produced it; or the agent's message the
/// server writes when a turn fails (a plain explanation, <paramref name="ErrorCode"/> the failure's code) or is cancelled.
/// </summary>
[EventType(EventTypes.OutputMessageCompleted)]
public sealed record OutputMessageCompleted(JsonObject Message, OutputMetadata Metadata, TokenUsage? Usage = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ErrorCode = null) : ISessionEventData;

/// <summary>
/// Tokens of a model call (or a turn's, summed), in the public API's disjoint buckets: <paramref name="InputTokens"/> are
/// the prompt tokens not read from the provider's cache, <paramref name="CacheReadTokens"/> those that were.
/// <paramref name="Estimated"/>: counted here by a tokenizer because the provider reported none.
/// <paramref name="EstimatedCostUsd"/>: the tokens at the deployment's price of the model (MODEL_PRICES); null when the
/// price is unknown (a sum is null when any of its parts is: never a partial figure).
/// </summary>
public sealed record TokenUsage(long InputTokens, long OutputTokens, long? CacheReadTokens = null, bool? Estimated = null,
    double? EstimatedCostUsd = null)
{
    public static TokenUsage operator +(TokenUsage a, TokenUsage b) => new(a.InputTokens + b.InputTokens, a.OutputTokens + b.OutputTokens,
        a.CacheReadTokens is null && b.CacheReadTokens is null ? null : (a.CacheReadTokens ?? 0) + (b.CacheReadTokens ?? 0),
        a.Estimated == true || b.Estimated == true ? true : null,
        a.EstimatedCostUsd is { } x && b.EstimatedCostUsd is { } y ? Math.Round(x + y, 9) : null);
}

/// <summary>
/// A model call happened: which model of which provider, whether it succeeded, how long it took and how long until its
/// first token, its finish reason, its tokens, and what it answered. (The messages sent are not recorded: the
/// conversation is in the session's events.)
/// </summary>
[EventType(EventTypes.LlmGeneration)]
public sealed record LlmGeneration(LlmGenerationMetadata Metadata, LlmGenerationOutput Output) : ISessionEventData;

public sealed record LlmGenerationMetadata(string Model, string? Provider, bool Success, long DurationMs, long? TimeToFirstTokenMs,
    IReadOnlyList<string>? FinishReasons, TokenUsage? Usage, string? Error = null, LlmRetry? Retry = null);

/// <summary>How often a model call was tried again after a transient failure (rate limit, provider down), and how long it waited.</summary>
public sealed record LlmRetry(int Attempts, long TotalWaitMs);

/// <summary>A reasoning model began to think aloud (streamed before its answer).</summary>
[EventType(EventTypes.ReasonThinkingStarted)]
public sealed record ReasonThinkingStarted(string TurnId, string? Model) : ISessionEventData;

/// <summary>More of the model's thinking: what came since the last delta, and all of it so far.</summary>
[EventType(EventTypes.ReasonThinkingDelta)]
public sealed record ReasonThinkingDelta(string TurnId, string Delta, string Accumulated) : ISessionEventData;

/// <summary>The model's thinking, whole, once its answer began (or the call ended).</summary>
[EventType(EventTypes.ReasonThinkingCompleted)]
public sealed record ReasonThinkingCompleted(string TurnId, string Thinking) : ISessionEventData;

public sealed record LlmGenerationOutput(string? Text, IReadOnlyList<ToolCallRef> ToolCalls);

public sealed record OutputMetadata(string? Model);

/// <summary>A tool call started running (<paramref name="DisplayName"/>: how to show it).</summary>
[EventType(EventTypes.ToolStarted)]
public sealed record ToolStarted(ToolCallRef ToolCall, string DisplayName) : ISessionEventData;

/// <summary>A tool call of the model: its id, the tool's name and the arguments it gave.</summary>
public sealed record ToolCallRef(string Id, string Name, JsonObject Arguments);

/// <summary>A tool call finished: its result as content parts, or its error.</summary>
[EventType(EventTypes.ToolCompleted)]
public sealed record ToolCompleted(
    string ToolCallId, string ToolName, bool Success, string Status, JsonArray? Result, string? Error, long DurationMs)
    : ISessionEventData;

/// <summary>The turn ended with the agent's answer.</summary>
[EventType(EventTypes.TurnCompleted)]
public sealed record TurnCompleted(
    string TurnId, int Iterations, int LlmCallCount, string FinalMessageId, string? FinalAnswerPreview, long DurationMs,
    string? InputContent, TokenUsage? Usage = null, int? ToolCallCount = null, long? TimeToFirstTokenMs = null, string? Status = null)
    : ISessionEventData;

/// <summary>
/// The turn ended without an answer. <paramref name="ErrorCode"/> is stable (<c>provider_rate_limited</c>,
/// <c>max_iterations_reached</c>, ...: docs/providers.md lists them), <paramref name="ErrorFields"/> its particulars (provider,
/// model_id, retry_after); <paramref name="DeadLetterId"/> names the dead letter kept of a step that stopped on an internal error.
/// </summary>
[EventType(EventTypes.TurnFailed)]
public sealed record TurnFailed(string TurnId, string Error, string? ErrorCode,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? DeadLetterId = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyDictionary<string, string>? ErrorFields = null)
    : ISessionEventData;

/// <summary>The turn was cancelled (by its user, or because its session is going away).</summary>
[EventType(EventTypes.TurnCancelled)]
public sealed record TurnCancelled(string TurnId, string? Reason) : ISessionEventData;

/// <summary>
/// The session went idle after a turn that its user cancelled (<c>POST /v1/sessions/{id}/cancel</c>), with no message
/// queued behind it. (Turns that complete or fail end with their own event, which says as much.)
/// </summary>
[EventType(EventTypes.SessionIdled)]
public sealed record SessionIdled(string TurnId) : ISessionEventData;

/// <summary>Event type names of the public Everruns protocol.</summary>
public static class EventTypes
{
    public const string InputMessage = "input.message";
    public const string OutputMessageStarted = "output.message.started";
    public const string OutputMessageDelta = "output.message.delta";
    public const string OutputMessageCompleted = "output.message.completed";
    public const string TurnStarted = "turn.started";
    public const string TurnCompleted = "turn.completed";
    public const string TurnFailed = "turn.failed";
    public const string TurnCancelled = "turn.cancelled";
    public const string SessionIdled = "session.idled";
    public const string ToolStarted = "tool.started";
    public const string ToolCompleted = "tool.completed";
    public const string ToolCallRequested = "tool.call_requested";
    public const string FileWritten = "file.written";
    public const string LlmGeneration = "llm.generation";
    public const string ReasonThinkingStarted = "reason.thinking.started";
    public const string ReasonThinkingDelta = "reason.thinking.delta";
    public const string ReasonThinkingCompleted = "reason.thinking.completed";
    public const string BudgetWarning = "budget.warning";
    public const string BudgetPaused = "budget.paused";
    public const string BudgetExhausted = "budget.exhausted";
    public const string BudgetResumed = "budget.resumed";

    /// <summary>The streaming fragments of the protocol (not counted by the event list's <c>X-Total-Count</c>).</summary>
    public static readonly IReadOnlyList<string> Deltas = [OutputMessageDelta, ReasonThinkingDelta, "tool.output.delta"];

    /// <summary>Every event record of this build, by its protocol name: what Marten maps, and what a read turns back into records.</summary>
    public static readonly IReadOnlyDictionary<string, Type> Records = typeof(ISessionEventData).Assembly.GetTypes()
        .Where(t => t.IsClass && !t.IsAbstract && typeof(ISessionEventData).IsAssignableFrom(t))
        .ToDictionary(t => t.GetCustomAttribute<EventTypeAttribute>()?.Name
                           ?? throw new InvalidOperationException($"{t.Name} has no [EventType] name"));

    private static readonly Dictionary<Type, string> Names = Records.ToDictionary(r => r.Value, r => r.Key);

    /// <summary>The protocol name of an event record.</summary>
    public static string Of(ISessionEventData data) => Names[data.GetType()];
}

/// <summary>
/// Session statuses of the public API: started (no turn yet), active (a turn runs), waiting_for_tool_results (its turn
/// waits for the client's tool results), idle (waiting for input).
/// </summary>
public static class SessionStatuses
{
    public const string Started = "started";
    public const string Active = "active";
    public const string WaitingForToolResults = "waiting_for_tool_results";
    public const string Idle = "idle";
}

/// <summary>
/// The <c>event_available</c> channel: a payload <c>&lt;session id&gt;:&lt;sequence&gt;:&lt;event type&gt;</c> says
/// the session has an event of that type committed at or before that sequence. This build's instances send them
/// themselves after each commit, a few commits' worth in one round trip (see the Events module's EventNotifier);
/// their connections carry <see cref="ConnectionOption"/>, which tells the store's trigger to leave their commits
/// alone. Any other writer (a script, a repair by hand) is notified by the trigger,
/// inside its transaction, one notification per event.
/// </summary>
public static class EventNotifications
{
    public const string Channel = "event_available";

    /// <summary>The session setting the trigger reads (a placeholder of PostgreSQL's, which needs no extension).</summary>
    public const string Setting = "everruns.event_notifier";

    /// <summary>Set at connection start-up: kept across RESET ALL and DISCARD ALL, unlike a SET.</summary>
    public const string ConnectionOption = "-c " + Setting + "=app";
}
