using System.Text.Json.Nodes;
using Everruns.Contracts;
using Marten;
using Wolverine;

namespace Everruns.Modules.Execution;

/// <summary>
/// A user's message (<see cref="AcceptMessage"/>, asked by Messages while the POST waits): under the session's write lock
/// it is appended as <c>input.message</c> and starts a turn, or waits in the session's queue behind the running one,
/// in one transaction. The lock orders concurrent posts to a session (from any instance): the sequence of their
/// inputs is the order of their turns.
/// <para>
/// <see cref="SessionTurns.InputsSeen"/> is kept up to date (the input's sequence: the stream's version, read under the
/// lock, plus one) for <see cref="StartTurnHandler"/>, which instances of an earlier build rely on during a rolling upgrade.
/// </para>
/// </summary>
public static class AcceptMessageHandler
{
    public static async Task<OutgoingMessages> Handle(AcceptMessage accept, IDocumentSession documents, CancellationToken ct)
    {
        var next = new OutgoingMessages();
        // One round trip: the lock, then the turn state and the stream's version as they are under it.
        var batch = await SessionStream.LockedBatchAsync(documents, accept.SessionId, ct);
        var loading = batch.Load<SessionTurns>(accept.SessionId);
        var stream = batch.Events.FetchStreamState(accept.SessionId);
        await batch.Execute(ct);
        var state = await loading ?? new SessionTurns { Id = accept.SessionId };

        documents.Events.Append(accept.SessionId, SessionEvent.Create(accept.SessionId, EventTypes.InputMessage,
            new JsonObject { ["message"] = accept.Message.DeepClone() }, new EventContext(InputMessageId: accept.MessageId)));
        EverrunsMetrics.EventsWritten.Add();
        state.InputsSeen = ((await stream)?.Version ?? 0) + 1;

        var input = new QueuedInput(accept.MessageId, accept.Text);
        if (state.Active is null) Turns.StartIdle(state, input, documents, next, accept.Runtime);
        else state.Queue.Add(input);

        documents.Store(state);
        if (accept.Response is { } response) IdempotencyKeys.Save(documents, response);
        return next;
    }
}

/// <summary>
/// A message posted by an instance of an earlier build (<see cref="MessagePosted"/>, after its own transaction appended the
/// input) starts a turn, or waits in the session's queue, as <see cref="AcceptMessageHandler"/> does. The session's event
/// stream, not the arrival order of these messages, decides the order: under the session's write lock every
/// <c>input.message</c> after <see cref="SessionTurns.InputsSeen"/> is queued by its sequence. A message whose input an
/// earlier one already queued (or a redelivery) is a no-op.
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
            Turns.StartIdle(state, first, documents, next);
        }

        documents.Store(state);
        return next;
    }
}
