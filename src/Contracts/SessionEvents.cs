using System.Text.Json.Nodes;

namespace Everruns.Contracts;

/// <summary>
/// Every change to a session is one of these, appended to the session's Marten event stream (stream key =
/// session id). Its stream version is the per-session <c>sequence</c>: gap-free and strictly increasing.
/// </summary>
public sealed record SessionEvent(
    string EventId,
    string Type,
    DateTimeOffset Ts,
    string SessionId,
    EventContext Context,
    JsonObject Data)
{
    public static SessionEvent Create(string sessionId, string type, JsonObject data, EventContext? context = null) =>
        new(Ids.NewEventId(), type, DateTimeOffset.UtcNow, sessionId, context ?? EventContext.None, data);
}

/// <summary>Correlation of an event with the turn and input message it belongs to.</summary>
public sealed record EventContext(string? TurnId = null, string? InputMessageId = null)
{
    public static readonly EventContext None = new();
}

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
    public const string ToolStarted = "tool.started";
    public const string ToolCompleted = "tool.completed";

    /// <summary>The streaming fragments of the protocol (not counted by the event list's <c>X-Total-Count</c>).</summary>
    public static readonly IReadOnlyList<string> Deltas = [OutputMessageDelta, "reason.thinking.delta", "tool.output.delta"];
}

/// <summary>Session statuses of the public API: started (no turn yet), active (a turn runs), idle (waiting for input).</summary>
public static class SessionStatuses
{
    public const string Started = "started";
    public const string Active = "active";
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
