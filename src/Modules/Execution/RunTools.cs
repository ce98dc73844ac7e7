using System.Text.Json.Nodes;
using Everruns.Contracts;
using Everruns.Infrastructure;
using Marten;
using Wolverine;

namespace Everruns.Modules.Execution;

/// <summary>Acting: runs the tool calls of a model answer (<c>tool.started</c> as each begins) and hands the results on.</summary>
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
        foreach (var call in run.ToolCalls)
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

            outcomes.Add(await tools.RunAsync(call, enabled, ct));
        }

        EverrunsMetrics.TaskCompleted.Add();
        await FinishTools.CommitAsync(new ToolsFinished(run.SessionId, run.TurnId, run.Iteration, outcomes), runtime, documents, next, ct);
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
        OutgoingMessages next, CancellationToken ct)
    {
        var maxIterations = runtime?.MaxIterations ?? SessionRuntime.DefaultMaxIterations;
        var state = await Turns.LoadLockedAsync(documents, finished.SessionId, ct);
        if (!state.IsAt(finished.TurnId, finished.Iteration, TurnPhase.Acting)) return;
        var turn = state!.Active!;

        JasperFx.Events.IEvent? written = null;
        foreach (var outcome in finished.Outcomes)
            written = Turns.Append(documents, state, new ToolCompleted(outcome.ToolCallId, outcome.ToolName, outcome.Success,
                outcome.Status, outcome.Result is null ? null : new JsonArray(new JsonObject { ["type"] = "text", ["text"] = outcome.Result }),
                outcome.Error, outcome.DurationMs));

        if (turn.Iteration >= maxIterations)
        {
            Turns.Fail(state, $"The agent used all {maxIterations} iterations of this turn without a final answer.",
                "max_iterations_reached", documents, next);
            return;
        }

        state.Active = turn with { Iteration = turn.Iteration + 1, Phase = TurnPhase.Reasoning, SteppedAt = DateTimeOffset.UtcNow };
        documents.Store(state);
        next.Add(new RunTurnStep(finished.SessionId, turn.TurnId, turn.Iteration + 1, turn.InputMessageId).Carrying(runtime, written, state));
    }
}
