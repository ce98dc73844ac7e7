using Everruns.Contracts;
using Marten;
using Wolverine;

namespace Everruns.Modules.Execution;

/// <summary>
/// Cancels the running turn: <c>turn.cancelled</c> is appended and the turn is no longer active, so the
/// step running it (on any instance) stops its model call when the event's notification reaches it, and
/// whatever it was about to commit is discarded. Messages queued behind it then run. Cancelled by its user, the turn's
/// end is recorded in the conversation too: <c>turn.cancelled</c>, <c>input.message</c> (the user's "User requested to
/// cancel the work."), <c>output.message.completed</c> (the agent's "Work was cancelled by user."), then
/// <c>session.idled</c> when no message waits.
/// </summary>
public static class CancelTurnHandler
{
    public static async Task<(CancelTurnOutcome, OutgoingMessages)> Handle(CancelTurn cancel, IDocumentSession documents)
    {
        var next = new OutgoingMessages();
        var state = await Turns.LoadLockedAsync(documents, cancel.SessionId);
        if (state?.Active is not { } active)
            return (new CancelTurnOutcome("no_op", "No turn is running", null), next);

        if (cancel.DropQueued) state.Queue.Clear();
        if (cancel.UserRequested)
            Turns.End(state, new TurnCancelled(active.TurnId, cancel.Reason), null, documents, next, TurnEndMessages.Cancelled(), announceIdle: true);
        else Turns.End(state, new TurnCancelled(active.TurnId, cancel.Reason), null, documents, next);
        return (new CancelTurnOutcome("cancelled", "Turn cancelled", active.TurnId), next);
    }
}
