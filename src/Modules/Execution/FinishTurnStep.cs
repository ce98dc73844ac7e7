using System.Text.Json.Nodes;
using Everruns.Contracts;
using Everruns.Infrastructure;
using Marten;
using Wolverine;

namespace Everruns.Modules.Execution;

/// <summary>
/// Commits a model call's outcome in the model-call step's own transaction (with its outgoing messages): the last
/// streamed text not yet written, <c>output.message.completed</c>, then either the tool calls to run, or the end of
/// the turn (<c>turn.completed</c> / <c>turn.failed</c>) and the next queued message. Nothing is committed when the
/// turn moved on meanwhile (cancelled, or ended by the reaper). With the turn state its sender handed over
/// (<see cref="StepHandover"/>), the commit is one round trip: the lock, the writes and the state's version check together.
/// </summary>
public static class FinishTurnStep
{
    public static async Task CommitAsync(TurnStepFinished finished, IDocumentSession documents, OutgoingMessages next,
        SessionTurns? handed, CancellationToken ct)
    {
        SessionTurns? state;
        if (handed.IsAt(finished.TurnId, finished.Iteration, TurnPhase.Reasoning))
        {
            // Every way on writes the state: its version, as handed over, is checked as it is written.
            SessionStream.LockOnSave(documents, finished.SessionId);
            documents.UpdateExpectedVersion(handed!, handed!.Version);
            state = handed;
            EverrunsMetrics.StepsHandedOver.Add();
        }
        else state = await Turns.LoadLockedAsync(documents, finished.SessionId, ct);

        if (!state.IsAt(finished.TurnId, finished.Iteration, TurnPhase.Reasoning)) return; // cancelled meanwhile
        var turn = state!.Active!;
        foreach (var progress in finished.Unwritten ?? []) Turns.Append(documents, state, progress);
        // The call itself (llm.generation), and what the turn has used so far.
        var totals = turn.Totals ?? TurnTotals.None;
        if (finished.Generation is { } generation)
        {
            Turns.Append(documents, state, generation);
            totals = totals with
            {
                Usage = totals.Usage is null ? generation.Metadata.Usage : generation.Metadata.Usage is null ? totals.Usage : totals.Usage + generation.Metadata.Usage,
                TimeToFirstTokenMs = totals.TimeToFirstTokenMs ?? generation.Metadata.TimeToFirstTokenMs,
            };
            state.Active = turn = turn with { Totals = totals }; // what the session's totals add when the turn ends
        }

        foreach (var notice in finished.BudgetEvents ?? []) Turns.Append(documents, state, notice);
        if (finished.PausedForBudget)
        {
            // Nothing runs until the session is resumed (ResumeBudgetPausedTurn), which sends this iteration's step again.
            state.Active = turn with { Phase = TurnPhase.PausedForBudget, SteppedAt = DateTimeOffset.UtcNow };
            documents.Store(state);
            return;
        }

        if (finished.Error is not null)
        {
            Turns.Fail(state, finished.Error, finished.ErrorCode, documents, next, errorFields: finished.ErrorFields);
            return;
        }

        var content = new JsonArray();
        if (finished.Text.Length > 0) content.Add(new JsonObject { ["type"] = "text", ["text"] = finished.Text });
        foreach (var call in finished.ToolCalls)
        {
            var part = call.ToJson();
            part["type"] = "tool_call";
            content.Add(part);
        }

        var messageId = finished.MessageId ?? Ids.New(Ids.Message); // the id its output.message.started announced
        Turns.Append(documents, state, new OutputMessageCompleted(new JsonObject
        {
            ["id"] = messageId,
            ["role"] = "agent",
            ["content"] = content,
            // Working commentary when tools follow, the turn's answer when none do.
            ["phase"] = finished.ToolCalls.Count > 0 ? "commentary" : "final_answer",
            ["created_at"] = DateTimeOffset.UtcNow.ToString("O"),
        }, new OutputMetadata(finished.Model), finished.Generation?.Metadata.Usage));

        if (finished.ToolCalls.Count > 0)
        {
            state.Active = turn with { Phase = TurnPhase.Acting, SteppedAt = DateTimeOffset.UtcNow, Totals = totals };
            documents.Store(state);
            next.Add(new RunTools(finished.SessionId, turn.TurnId, turn.Iteration, finished.ToolCalls));
            return;
        }

        Turns.End(state, new TurnCompleted(turn.TurnId, turn.Iteration, turn.Iteration, messageId, Previews.Of(finished.Text),
            (long)(DateTimeOffset.UtcNow - turn.StartedAt).TotalMilliseconds, Previews.Of(turn.InputText), totals.Usage, totals.ToolCalls,
            totals.TimeToFirstTokenMs, "completed"), finished.Text, documents, next);
    }
}
