using Everruns.Contracts;
using Marten;
using Wolverine;

namespace Everruns.Modules.Execution;

/// <summary>
/// A turn whose work was dead-lettered (a bug, not an outage: transient failures are retried) fails at once with
/// <c>internal_error</c> and the dead letter's id, instead of sitting active until the reaper gives up on it. Replaying
/// the dead letter later does nothing: its step finds the turn ended.
/// </summary>
public static class FailDeadLetteredTurnHandler
{
    public static async Task<OutgoingMessages> Handle(TurnWorkDeadLettered dead, IDocumentSession documents, CancellationToken ct)
    {
        var next = new OutgoingMessages();
        await Turns.FailIfActiveAsync(documents, dead.SessionId, dead.TurnId,
            $"The turn stopped on an internal error; its step is kept as dead letter {dead.DeadLetterId} for the operators.",
            "internal_error", next, dead.DeadLetterId, ct);
        return next;
    }
}
