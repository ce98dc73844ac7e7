using Everruns.Contracts;
using Marten;
using Wolverine;

namespace Everruns.Modules.Execution;

/// <summary>
/// A posted message starts a turn, or waits in the session's queue behind the running one. The session's
/// event stream, not the arrival order of <see cref="MessagePosted"/> (several handlers, several instances),
/// decides the order: under the session's write lock every <c>input.message</c> not yet seen is queued by its
/// sequence. A <see cref="MessagePosted"/> whose message an earlier one already queued (or a redelivery) is a no-op.
/// <para>
/// The inputs are read before the lock is taken: a handler holding a session's lock never waits for a second pooled
/// connection (when the pool ran dry, lock holders waiting for a connection and connection holders waiting for the
/// lock stalled each other until the pool's timeout). The read happens after this message's input committed, and
/// sequences commit in order, so it holds every input up to this one; under the lock, those another handler took
/// meanwhile are skipped, and any input committed after the read has a handler of its own still to come.
/// </para>
/// </summary>
public static class StartTurnHandler
{
    public static async Task<OutgoingMessages> Handle(MessagePosted posted, IDocumentSession documents, IMessageBus bus,
        CancellationToken ct)
    {
        var next = new OutgoingMessages();
        var seen = (await documents.LoadAsync<SessionTurns>(posted.SessionId, ct))?.InputsSeen ?? 0;
        var read = await bus.InvokeAsync<SessionEventsRead>(new ReadSessionEvents(posted.SessionId, [EventTypes.InputMessage], seen), ct);
        if (read.Events.Count == 0) return next;

        var state = await Turns.LoadLockedAsync(documents, posted.SessionId, ct) ?? new SessionTurns { Id = posted.SessionId };
        var unseen = read.Events.Where(e => e.Sequence > state.InputsSeen).ToList();
        if (unseen.Count == 0) return next;

        foreach (var input in unseen)
            state.Queue.Add(new QueuedInput(input.Context.InputMessageId!, Conversation.UserText(input)));
        state.InputsSeen = unseen[^1].Sequence;

        if (state.Active is null)
        {
            var first = state.Queue[0];
            state.Queue.RemoveAt(0);
            Turns.Start(state, first, documents, next);
            next.Add(new SessionActivityChanged(posted.SessionId, SessionStatuses.Active, DateTimeOffset.UtcNow, null,
                Previews.Of(first.Text)));
        }

        documents.Store(state);
        return next;
    }
}
