using System.Text.Json.Nodes;
using Everruns.Contracts;
using Everruns.Infrastructure;
using Marten;
using Wolverine;

namespace Everruns.Modules.Execution;

/// <summary>
/// The turn state of one session (document id = session id): the running turn, if any, and the user
/// messages queued behind it. Stored with optimistic concurrency: a message posted while a step finishes,
/// or a cancel racing a step, makes one of the two writers retry with fresh state, never both win.
/// </summary>
public sealed class SessionTurns
{
    public string Id { get; set; } = "";
    public ActiveTurn? Active { get; set; }
    public List<QueuedInput> Queue { get; set; } = [];

    /// <summary>
    /// What the session's turns did, as the API shows it (Sessions reads it: <see cref="ISessionActivities"/>): written with
    /// the turn state when a turn starts on an idle session and when the last one ends, so a turn costs no other write.
    /// Null until the session's first turn.
    /// </summary>
    public TurnActivity? Activity { get; set; }

    /// <summary>What the session's ended turns added up to (its <c>usage</c> and stats), written as each turn ends.</summary>
    public SessionTotals? Totals { get; set; }

    [Marten.Schema.Version]
    public Guid Version { get; set; }
}

/// <summary>
/// Reasoning: the model is being called for <see cref="ActiveTurn.Iteration"/>. Acting: its tool calls run.
/// WaitingForToolResults: the client runs the calls of <see cref="ActiveTurn.Waiting"/>; nothing runs, nothing is held.
/// PausedForBudget: a budget over the session is paused (its soft limit passed); the model call of
/// <see cref="ActiveTurn.Iteration"/> runs when <c>POST /v1/sessions/{id}/resume</c> resumes it.
/// </summary>
public enum TurnPhase
{
    Reasoning,
    Acting,
    WaitingForToolResults,
    PausedForBudget,
}

/// <summary>
/// The turn running in a session. <see cref="SteppedAt"/>: when it last moved to its next step (a model call's answer
/// committed, or its tools'), which the reaper takes as progress with the heartbeats; null until its first step moved on
/// (the reaper then goes by <see cref="StartedAt"/>). While it waits for the client's tool results, <see cref="Waiting"/>
/// holds the calls (and <see cref="SteppedAt"/> when the wait began).
/// </summary>
public sealed record ActiveTurn(
    string TurnId,
    string InputMessageId,
    string InputText,
    int Iteration,
    TurnPhase Phase,
    DateTimeOffset StartedAt,
    DateTimeOffset? SteppedAt = null,
    IReadOnlyList<ToolCallRef>? Waiting = null,
    TurnTotals? Totals = null);

/// <summary>What a turn's model calls and tools added up to so far (its <c>turn.completed</c> reports it).</summary>
public sealed record TurnTotals(TokenUsage? Usage, int ToolCalls, long? TimeToFirstTokenMs)
{
    public static readonly TurnTotals None = new(null, 0, null);
}

public sealed record QueuedInput(string MessageId, string Text);

/// <summary>A session's ended turns: how many, their tokens (and cost, when every one had a price), when the last one ended.</summary>
public sealed record SessionTotals(long Turns, TokenUsage? Usage, DateTimeOffset LastTurnAt);

/// <summary>
/// Active or idle since <see cref="At"/> (active while the state has a turn); <see cref="StartedAt"/>: the session's first
/// turn; <see cref="FinishedAt"/>: the end of its last turn (null while one runs); <see cref="Preview"/>: its first
/// input; <see cref="OutputPreview"/>: its last answer.
/// </summary>
public sealed record TurnActivity(DateTimeOffset At, DateTimeOffset StartedAt, DateTimeOffset? FinishedAt, string? Preview,
    string? OutputPreview);

// Steps of a turn. Each goes through a durable local queue (the Postgres inbox): a step interrupted by a crash is
// delivered again. A step does the slow work (model, tools) reading the state without holding a lock or a
// connection, then, under the session's write lock, checks that the turn is still where the step found it and
// commits the outcome with the next step's message in one transaction (the handler's own, with its inbox envelope).
/// <summary>
/// A model call of a turn: plain data, as every durable message. <paramref name="InputMessageId"/> (the context of the
/// turn's events) lets the step start without reading the turn state: the conversation it reads anyway tells whether the
/// step is still due (see <see cref="TurnStepRead.Outdated"/>); a step without it reads the turn state first. What the
/// sender knows besides travels beside the message, in memory (<see cref="StepMemory"/>).
/// </summary>
public sealed record RunTurnStep(string SessionId, string TurnId, int Iteration, string? InputMessageId = null) : ITurnWork;

/// <summary>
/// What the sender of a <see cref="RunTurnStep"/> hands the step when it runs in the same process: the session's settings
/// as the sender had just read them; the last event its transaction appended (its version set as it commits: when the
/// instance's kept conversation reaches exactly that far, see <see cref="KeepCommittedConversation"/>, the step reads
/// nothing); and the turn state it committed (<see cref="StepHandover"/>: the step's commit neither reads it nor waits
/// for the lock first). Kept beside the message object that Wolverine's local queue delivers as it was sent, weakly, so
/// it never outlives it; a step read back from the inbox (another instance, a restart, a scheduled retry) has none and
/// reads them. Why not read them always: on the turn benchmark these spare each step a read of the settings, of the
/// conversation and of the turn state under the session's lock.
/// </summary>
public static class StepMemory
{
    public sealed record Carried(SessionRuntime? Runtime, JasperFx.Events.IEvent? Written, StepHandover? Handover);

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<RunTurnStep, Carried> Table = new();

    public static RunTurnStep Carrying(this RunTurnStep step, SessionRuntime? runtime, JasperFx.Events.IEvent? written, SessionTurns state)
    {
        Table.AddOrUpdate(step, new Carried(runtime, written, new StepHandover(state)));
        return step;
    }

    /// <summary>What the sender handed over, when the step runs in the process that sent it.</summary>
    public static Carried? Of(RunTurnStep step) => Table.TryGetValue(step, out var carried) ? carried : null;
}

/// <summary>
/// What a model-call step's sender hands it in memory: the turn state its transaction committed (with the version it
/// committed), so that the step's commit neither reads it nor waits a round trip for the session's lock: the lock is
/// the first statement of the commit, and the state's write checks its version (another writer since, such as a message
/// queued behind the turn or a cancel, fails the commit). The state serves one commit only; a commit retried after a
/// failure reads it under the lock, as a step without a handover does.
/// </summary>
public sealed class StepHandover(SessionTurns state)
{
    private SessionTurns? _state = state;

    /// <summary>The handed state, the first time only.</summary>
    public SessionTurns? Take() => Interlocked.Exchange(ref _state, null);
}

/// <summary>
/// A model call's outcome; <see cref="Unwritten"/> is the progress not written yet (the message's start, the last
/// streamed text), committed with it.
/// </summary>
public sealed record TurnStepFinished(
    string SessionId, string TurnId, int Iteration, string? Model, string Text, IReadOnlyList<ToolCallRequest> ToolCalls,
    string? Error, string? ErrorCode, IReadOnlyList<ISessionEventData>? Unwritten = null, string? MessageId = null,
    LlmGeneration? Generation = null, IReadOnlyDictionary<string, string>? ErrorFields = null,
    IReadOnlyList<ISessionEventData>? BudgetEvents = null, bool PausedForBudget = false);

public sealed record RunTools(string SessionId, string TurnId, int Iteration, IReadOnlyList<ToolCallRequest> ToolCalls) : ITurnWork;

public sealed record ToolsFinished(string SessionId, string TurnId, int Iteration, IReadOnlyList<ToolOutcome> Outcomes);

public sealed record ToolCallRequest(string Id, string Name, JsonObject Arguments)
{
    public JsonObject ToJson() => new() { ["id"] = Id, ["name"] = Name, ["arguments"] = Arguments.DeepClone() };

    public ToolCallRef ToRef() => new(Id, Name, Arguments.DeepClone().AsObject());
}

public sealed record ToolOutcome(string ToolCallId, string ToolName, bool Success, string Status, string? Result, string? Error, long DurationMs);

/// <summary>Transitions of <see cref="SessionTurns"/>: each appends its events and names the messages that follow.</summary>
public static class Turns
{
    /// <summary>
    /// The session's turn state, read after taking the session's write turn (see <see cref="SessionStream"/>), in one
    /// round trip.
    /// </summary>
    public static async Task<SessionTurns?> LoadLockedAsync(IDocumentSession documents, string sessionId, CancellationToken ct = default)
    {
        var batch = await SessionStream.LockedBatchAsync(documents, sessionId, ct);
        var state = batch.Load<SessionTurns>(sessionId);
        await batch.Execute(ct);
        return await state;
    }

    public static bool IsAt(this SessionTurns? state, string turnId, int iteration, TurnPhase phase) =>
        state?.Active is { } active && active.TurnId == turnId && active.Iteration == iteration && active.Phase == phase;

    /// <summary>Starts a turn with the input; <paramref name="runtime"/>, when the caller has it, goes to its first model call.</summary>
    public static void Start(SessionTurns state, QueuedInput input, IDocumentSession documents, OutgoingMessages next,
        SessionRuntime? runtime = null)
    {
        var turnId = Ids.New(Ids.Turn);
        state.Active = new ActiveTurn(turnId, input.MessageId, input.Text, 1, TurnPhase.Reasoning, DateTimeOffset.UtcNow);
        ActiveTurns.Started(documents, state.Id, turnId);
        var started = Append(documents, state, new TurnStarted(turnId, input.MessageId, Previews.Of(input.Text)));
        next.Add(new RunTurnStep(state.Id, turnId, 1, input.MessageId).Carrying(runtime, started, state));
        EverrunsMetrics.TurnsStarted.Add();
    }

    /// <summary>Starts a turn on an idle session: the session becomes active (its first input is its preview).</summary>
    public static void StartIdle(SessionTurns state, QueuedInput input, IDocumentSession documents, OutgoingMessages next,
        SessionRuntime? runtime = null)
    {
        Start(state, input, documents, next, runtime);
        var now = state.Active!.StartedAt;
        state.Activity = state.Activity is { } was
            ? was with { At = now, FinishedAt = null, Preview = was.Preview ?? Previews.Of(input.Text) }
            : new TurnActivity(now, now, null, Previews.Of(input.Text), null);
    }

    /// <summary>Fails the session's turn <paramref name="turnId"/> under the session's lock, unless it ended meanwhile.</summary>
    public static async Task FailIfActiveAsync(IDocumentSession documents, string sessionId, string turnId, string error, string errorCode,
        OutgoingMessages next, string? deadLetterId = null, CancellationToken ct = default)
    {
        var state = await LoadLockedAsync(documents, sessionId, ct);
        if (state?.Active?.TurnId == turnId) Fail(state, error, errorCode, documents, next, deadLetterId);
    }

    /// <summary>
    /// Ends the active turn with <c>turn.failed</c>, followed by the agent's message that tells the user, in plain words
    /// for its error code (<see cref="TurnEndMessages.Failed"/>).
    /// </summary>
    public static void Fail(SessionTurns state, string error, string? errorCode, IDocumentSession documents, OutgoingMessages next,
        string? deadLetterId = null, IReadOnlyDictionary<string, string>? errorFields = null) =>
        End(state, new TurnFailed(state.Active!.TurnId, error, errorCode, deadLetterId, errorFields), null, documents, next,
            [TurnEndMessages.Failed(errorCode, errorFields)]);

    /// <summary>
    /// Ends the active turn with its final event (and <paramref name="after"/> it, in the turn's context), then starts the
    /// next queued message or goes idle (announced with <c>session.idled</c> when <paramref name="announceIdle"/>). Calls
    /// the client was to run get an error result first (the reason the turn ended), so that the conversation has an
    /// answer to each.
    /// </summary>
    public static void End(SessionTurns state, ISessionEventData final, string? outputPreview, IDocumentSession documents,
        OutgoingMessages next, IReadOnlyList<ISessionEventData>? after = null, bool announceIdle = false)
    {
        var ended = Context(state.Active);
        if (state.Active!.Waiting is { } waiting)
        {
            var reason = final switch
            {
                TurnCancelled cancelled => $"Cancelled: {cancelled.Reason ?? "the turn was cancelled"}",
                TurnFailed failed => $"The turn failed: {failed.Error}",
                _ => "The turn ended",
            };
            foreach (var call in waiting)
                Append(documents, state, new ToolCompleted(call.Id, call.Name, false, "cancelled", null, reason, 0));
        }

        Append(documents, state, final);
        foreach (var e in after ?? []) documents.AppendSessionEvent(state.Id, e, e is InputMessageReceived input ? ended with
        {
            InputMessageId = (string?)input.Message["id"], // the message's own id, as a posted one has
        } : ended);
        switch (final)
        {
            case TurnCompleted: EverrunsMetrics.TurnsCompleted.Add(); break;
            case TurnCancelled: EverrunsMetrics.TurnsCancelled.Add(); break;
            case TurnFailed failed: EverrunsMetrics.TurnsFailed.Add(reason: failed.ErrorCode ?? "unknown"); break;
        }

        var turnStartedAt = state.Active!.StartedAt;
        var turnUsage = state.Active.Totals?.Usage;
        var sums = state.Totals;
        state.Totals = new SessionTotals((sums?.Turns ?? 0) + 1,
            sums?.Usage is null ? turnUsage : turnUsage is null ? sums.Usage : sums.Usage + turnUsage, DateTimeOffset.UtcNow);
        ActiveTurns.Ended(documents, state.Id, state.Active.TurnId);
        state.Active = null;
        if (state.Queue.Count > 0)
        {
            var input = state.Queue[0];
            state.Queue.RemoveAt(0);
            Start(state, input, documents, next);
        }
        else
        {
            // Idle.
            var now = DateTimeOffset.UtcNow;
            var was = state.Activity ?? new TurnActivity(now, turnStartedAt, null, null, null);
            state.Activity = was with
            {
                At = now, FinishedAt = now, OutputPreview = outputPreview is null ? was.OutputPreview : Previews.Of(outputPreview),
            };
            if (announceIdle) documents.AppendSessionEvent(state.Id, new SessionIdled(ended.TurnId!), ended);
        }

        documents.Store(state);
    }

    /// <summary>Adds tool calls that completed (the server's, or the client's results) to the turn's totals.</summary>
    public static void CountToolCalls(SessionTurns state, int calls)
    {
        var totals = state.Active!.Totals ?? TurnTotals.None;
        state.Active = state.Active with { Totals = totals with { ToolCalls = totals.ToolCalls + calls } };
    }

    /// <summary>Appends an event of the active turn to the session's stream, in the caller's transaction.</summary>
    public static JasperFx.Events.IEvent Append(IDocumentSession documents, SessionTurns state, ISessionEventData data) =>
        documents.AppendSessionEvent(state.Id, data, Context(state.Active));

    public static EventContext Context(ActiveTurn? turn) =>
        turn is null ? EventContext.None : new EventContext(turn.TurnId, turn.InputMessageId);
}
