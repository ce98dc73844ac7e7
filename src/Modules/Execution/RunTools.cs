using System.Text.Json.Nodes;
using Everruns.Contracts;
using Everruns.Infrastructure;
using Marten;
using Wolverine;

namespace Everruns.Modules.Execution;

/// <summary>
/// Acting: runs the server's tool calls of a model answer (<c>tool.started</c> as each begins) and hands the results on;
/// calls of tools the client runs (<see cref="ClientToolDefinition"/>) are left to it: the turn then waits for their results.
/// </summary>
public static class RunToolsHandler
{
    public static async Task<OutgoingMessages> Handle(RunTools run, IDocumentSession documents, ISessionDirectory sessions,
        ISessionEventLog events, Tools tools,
        TurnProgress progress, TurnHeartbeat heartbeat, CancellationToken ct)
    {
        var next = new OutgoingMessages();
        var state = await documents.LoadAsync<SessionTurns>(run.SessionId, ct);
        if (!state.IsAt(run.TurnId, run.Iteration, TurnPhase.Acting)) return next;
        var turn = state!.Active!;
        EverrunsMetrics.TaskClaimed.Add();
        await using var beating = heartbeat.Begin(run.SessionId, run.TurnId);
        var runtime = await sessions.RuntimeAsync(run.SessionId, ct);
        var enabled = runtime?.Capabilities ?? [];

        // A step run again (crash, hand-off) does not announce the calls an earlier attempt already started.
        var announced = (await events.ReadAsync(new ReadSessionEvents(run.SessionId, [EventTypes.ToolStarted], TurnId: run.TurnId), ct))
            .Select(e => (e.Data as ToolStarted)?.ToolCall.Id).ToHashSet();
        var outcomes = new List<ToolOutcome>();
        var context = new ToolContext(run.SessionId, documents, runtime?.WorkspaceId, MemoryMounts.From(enabled)); // the tools' writes commit with their tool.completed
        var atCommit = new List<(int Index, ToolCallRequest Call)>();
        var clientTools = (runtime?.Tools ?? []).Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        var forClient = run.ToolCalls.Where(c => clientTools.Contains(c.Name)).ToList();
        foreach (var call in run.ToolCalls.Where(c => !clientTools.Contains(c.Name)))
        {
            if (!announced.Contains(call.Id))
            {
                try
                {
                    await progress.AppendAsync(documents.TenantId, run.SessionId, Turns.Context(turn), new ToolStarted(call.ToRef(), Tools.DisplayName(call.Name)), ct);
                }
                catch (TurnEndedException)
                {
                    return next; // cancelled meanwhile: nothing more to do for this turn
                }
            }

            if (tools.RunsAtCommit(call.Name) && enabled.Any(c => c.Ref == BuiltInCapabilities.SessionFileSystem))
            {
                atCommit.Add((outcomes.Count, call));
                outcomes.Add(null!); // run at the commit, in order with the others
                continue;
            }

            outcomes.Add(await tools.RunAsync(call, enabled, context, ct));
        }

        EverrunsMetrics.TaskCompleted.Add();
        await FinishTools.CommitAsync(new ToolsFinished(run.SessionId, run.TurnId, run.Iteration, outcomes), runtime, documents, next, ct,
            forClient, atCommit.Count == 0 ? null : async () =>
            {
                // Under the session's lock, in the step's transaction: the calls' changes commit with their tool.completed.
                context.Connection = documents.Connection;
                foreach (var (index, call) in atCommit) outcomes[index] = await tools.RunAsync(call, enabled, context, ct);
                foreach (var written in context.Writes) next.Add(written);
            });
        return next;
    }
}

/// <summary>
/// Commits the tool results (<c>tool.completed</c> each) in the tools step's own transaction and asks the model
/// again, unless the turn has used its iterations: then it fails with a message saying so.
/// </summary>
public static class FinishTools
{
    public static async Task CommitAsync(ToolsFinished finished, SessionRuntime? runtime, IDocumentSession documents,
        OutgoingMessages next, CancellationToken ct, IReadOnlyList<ToolCallRequest>? forClient = null, Func<Task>? atCommit = null)
    {
        var state = await Turns.LoadLockedAsync(documents, finished.SessionId, ct);
        if (!state.IsAt(finished.TurnId, finished.Iteration, TurnPhase.Acting))
        {
            documents.EjectAllPendingChanges(); // the turn moved on (cancelled): its tools' writes go too
            return;
        }

        if (atCommit is not null) await atCommit();
        var written = CompleteAll(documents, state!, finished.Outcomes);

        if (forClient is { Count: > 0 })
        {
            WaitForClient(state!, forClient, runtime, documents);
            return;
        }

        Continue(state!, runtime, written, documents, next);
    }

    /// <summary>Appends each call's <c>tool.completed</c> and counts them in the turn's totals; the last event appended.</summary>
    public static JasperFx.Events.IEvent? CompleteAll(IDocumentSession documents, SessionTurns state, IReadOnlyList<ToolOutcome> outcomes)
    {
        JasperFx.Events.IEvent? written = null;
        foreach (var outcome in outcomes) written = Complete(documents, state, outcome);
        Turns.CountToolCalls(state, outcomes.Count);
        return written;
    }

    /// <summary>Appends a call's <c>tool.completed</c> (its result as a text part, or its error).</summary>
    private static JasperFx.Events.IEvent Complete(IDocumentSession documents, SessionTurns state, ToolOutcome outcome) =>
        Turns.Append(documents, state, new ToolCompleted(outcome.ToolCallId, outcome.ToolName, outcome.Success,
            outcome.Status, outcome.Result is null ? null : new JsonArray(new JsonObject { ["type"] = "text", ["text"] = outcome.Result }),
            outcome.Error, outcome.DurationMs));

    /// <summary>
    /// The client is to run these calls: <c>tool.call_requested</c>, and the turn waits (the session shows
    /// <c>waiting_for_tool_results</c>). Nothing is scheduled: the client's results, a new message, a cancel or the
    /// timeout job move the turn on, from any instance.
    /// </summary>
    private static void WaitForClient(SessionTurns state, IReadOnlyList<ToolCallRequest> calls, SessionRuntime? runtime, IDocumentSession documents)
    {
        var declared = (runtime?.Tools ?? []).ToDictionary(t => t.Name!, StringComparer.Ordinal);
        var refs = calls.Select(c => c.ToRef()).ToList();
        var summaries = calls.Select(c => new ToolCallSummary(c.Id, c.Name,
            declared.GetValueOrDefault(c.Name)?.DisplayName ?? Tools.DisplayName(c.Name))).ToList();
        var headline = summaries.Count == 1
            ? $"Waiting for {summaries[0].DisplayName}"
            : $"Waiting for {summaries.Count} tool calls: {string.Join(", ", summaries.Select(s => s.DisplayName))}";
        Turns.Append(documents, state, new ToolCallRequested(refs, summaries, headline));
        state.Active = state.Active! with { Phase = TurnPhase.WaitingForToolResults, SteppedAt = DateTimeOffset.UtcNow, Waiting = refs };
        documents.Store(state);
    }

    /// <summary>
    /// The turn's tool results are all in: the model is asked again (the next iteration), unless the turn has used its
    /// iterations: then it fails with a message saying so.
    /// </summary>
    public static void Continue(SessionTurns state, SessionRuntime? runtime, JasperFx.Events.IEvent? written, IDocumentSession documents,
        OutgoingMessages next)
    {
        var maxIterations = runtime?.MaxIterations ?? SessionRuntime.DefaultMaxIterations;
        var turn = state.Active!;
        if (turn.Iteration >= maxIterations)
        {
            Turns.Fail(state, $"The agent used all {maxIterations} iterations of this turn without a final answer.",
                "max_iterations_reached", documents, next);
            return;
        }

        state.Active = turn with { Iteration = turn.Iteration + 1, Phase = TurnPhase.Reasoning, SteppedAt = DateTimeOffset.UtcNow, Waiting = null };
        documents.Store(state);
        next.Add(new RunTurnStep(state.Id, turn.TurnId, turn.Iteration + 1, turn.InputMessageId).Carrying(runtime, written, state));
    }
}
