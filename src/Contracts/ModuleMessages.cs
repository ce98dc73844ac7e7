using System.Text.Json.Nodes;

namespace Everruns.Contracts;

// Messages between modules. A module never references another module's project; it sends these.

/// <summary>An agent as <see cref="IAgentDirectory"/> finds it.</summary>
public sealed record AgentSnapshot(
    string Id, string Name, string SystemPrompt, string? DefaultModelId, int? MaxIterations,
    IReadOnlyList<CapabilityRef> Capabilities, string Status, IReadOnlyList<ClientToolDefinition>? Tools = null,
    bool? ParallelToolCalls = null, IReadOnlyList<InitialFile>? InitialFiles = null, string HarnessId = BuiltInHarness.Id,
    string? VersionId = null);

/// <summary>Published by Sessions when a session is opened with an agent (Agents keeps session_count).</summary>
public sealed record SessionOpened(string SessionId, string OrgId, string? AgentId);

/// <summary>A session as <see cref="ISessionDirectory"/> finds it (<paramref name="Session"/> null when it is not there), with what its turns run with.</summary>
public sealed record SessionFound(SessionRef? Session, SessionRuntime? Runtime = null);

public sealed record SessionRef(string Id, string OrgId);

/// <summary>What a turn runs with: the session's settings merged over its agent's (its client tools: the agent's and its own).</summary>
public sealed record SessionRuntime(
    string SessionId, string OrgId, string? AgentId, string SystemPrompt, string? ModelId, int MaxIterations,
    IReadOnlyList<CapabilityRef> Capabilities, IReadOnlyList<ClientToolDefinition>? ClientTools = null, bool? ParallelToolCalls = null,
    string? WorkspaceId = null)
{
    public const int DefaultMaxIterations = 10;

    public IReadOnlyList<ClientToolDefinition> Tools => ClientTools ?? [];
}

/// <summary>
/// Asked of Execution by Messages for a user's message: appends <c>input.message</c> (with <paramref name="Message"/>, the
/// Message resource as JSON) and starts a turn with it, or queues it behind the running one, in one transaction.
/// <paramref name="Runtime"/>: the session's settings as the poster just read them (<see cref="SessionFound"/>), handed to
/// the turn's first model call so that it need not read them again. <paramref name="Response"/>: the POST's response, stored
/// in the same transaction when the request carries an Idempotency-Key.
/// </summary>
public sealed record AcceptMessage(string SessionId, string MessageId, JsonObject Message, string Text, SessionRuntime? Runtime = null,
    IdempotentResponse? Response = null);

/// <summary>
/// A session's activity: <paramref name="Status"/> <c>active</c> or <c>idle</c> since <paramref name="At"/>; when it
/// first became active; when its last turn ended (null while one runs); its first input and its last answer, previewed.
/// </summary>
public sealed record SessionActivity(string Status, DateTimeOffset At, DateTimeOffset StartedAt, DateTimeOffset? FinishedAt,
    string? Preview, string? OutputPreview, long Turns = 0, TokenUsage? Usage = null, DateTimeOffset? LastTurnAt = null);

/// <summary>
/// Ask Execution to cancel the running turn of a session; answered with <see cref="CancelTurnOutcome"/>.
/// <paramref name="DropQueued"/> also discards the messages waiting behind it (the session is going away).
/// <paramref name="UserRequested"/>: its user asked (the cancel route): the conversation records it (a user message
/// asking to cancel, the agent's answer that the work was cancelled) and the session announces it went idle.
/// </summary>
public sealed record CancelTurn(string SessionId, string? Reason, bool DropQueued = false, bool UserRequested = false);

public sealed record CancelTurnOutcome(string Status, string Message, string? TurnId);

/// <summary>A message of the conversation in the public shape (content parts as JSON).</summary>
public sealed record ConversationMessage(string Id, string Role, JsonArray Content, DateTimeOffset CreatedAt);

/// <summary>
/// A read of a session's events of some types after a sequence (<see cref="ISessionEventLog.ReadAsync"/>).
/// <paramref name="TurnId"/> narrows them to one turn, or, with <paramref name="TurnTypes"/>, adds the events of those
/// types of that turn to the <paramref name="Types"/> of every turn (one read for both); those are read after
/// <paramref name="TurnAfterSequence"/> when it is given (lower than <paramref name="AfterSequence"/>: a reader that keeps
/// the earlier events of <paramref name="Types"/> but needs all of its turn's).
/// </summary>
public sealed record ReadSessionEvents(
    string SessionId, IReadOnlyList<string>? Types, long AfterSequence = 0, int Limit = 10_000, string? TurnId = null,
    IReadOnlyList<string>? TurnTypes = null, long? TurnAfterSequence = null);

/// <summary>
/// A page of a session's events of some types, by position among them (oldest first), with how many there are
/// (<see cref="ISessionEventLog.PageAsync"/>).
/// </summary>
public sealed record PageSessionEvents(string SessionId, IReadOnlyList<string> Types, int Offset, int Limit);

public sealed record SessionEventsPage(IReadOnlyList<RecordedSessionEvent> Events, long Total);

/// <summary>A stored session event with its per-session sequence.</summary>
public sealed record RecordedSessionEvent(long Sequence, string Id, DateTimeOffset Ts, EventContext Context, ISessionEventData Data)
{
    public string Type => EventTypes.Of(Data);
}

/// <summary>An org's provider connection (<see cref="IProviderCredentials"/>): its id, key (opened, in memory only) and base URL.</summary>
public sealed record ProviderCredentialsFound(string? ProviderId, string? ApiKey, string? BaseUrl);
