using Everruns.Contracts;
using Marten;
using Wolverine;

namespace Everruns.Modules.Execution;

/// <summary>
/// A posted message starts a turn, or waits in the session's queue behind the running one. The session's
/// event stream, not the arrival order of <see cref="MessagePosted"/> (several handlers, several instances),
/// decides the order: under the session's write lock every <c>input.message</c> not yet seen is queued by its
/// sequence. A <see cref="MessagePosted"/> whose message an earlier one already queued (or a redelivery) is a no-op.
/// </summary>
public static class StartTurnHandler
{
    public static async Task<OutgoingMessages> Handle(MessagePosted posted, IDocumentSession documents, IMessageBus bus,
        CancellationToken ct)
    {
        var next = new OutgoingMessages();
        var state = await Turns.LoadLockedAsync(documents, posted.SessionId, ct) ?? new SessionTurns { Id = posted.SessionId };
        var unseen = await bus.InvokeAsync<SessionEventsRead>(
            new ReadSessionEvents(posted.SessionId, [EventTypes.InputMessage], state.InputsSeen), ct);
        if (unseen.Events.Count == 0) return next;

        foreach (var input in unseen.Events)
            state.Queue.Add(new QueuedInput(input.Context.InputMessageId!, Conversation.UserText(input)));
        state.InputsSeen = unseen.Events[^1].Sequence;

        if (state.Active is null)
        {
            var first = state.Queue[0];
            state.Queue.RemoveAt(0);
            Turns.Start(state, first, documents, next);
            next.Add(new SessionActivityChanged(posted.SessionId, SessionStatuses.Active, DateTimeOffset.UtcNow, null,
                Turns.Preview(first.Text)));
        }

        documents.Store(state);
        return next;
    }
}
