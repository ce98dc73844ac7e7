using Everruns.Contracts;
using Everruns.Infrastructure;
using Marten;
using Wolverine;

namespace Everruns.Modules.Execution;

/// <summary>
/// A user's message (<see cref="AcceptMessage"/>, asked by Messages while the POST waits): under the session's write lock
/// it is appended as <c>input.message</c> and starts a turn, or waits in the session's queue behind the running one,
/// in one transaction. The lock orders concurrent posts to a session (from any instance): the sequence of their
/// inputs is the order of their turns. A turn waiting for its client's tool results is cancelled by a new message.
/// </summary>
public static class AcceptMessageHandler
{
    public static async Task<OutgoingMessages> Handle(AcceptMessage accept, IDocumentSession documents, CancellationToken ct)
    {
        var next = new OutgoingMessages();
        var state = await Turns.LoadLockedAsync(documents, accept.SessionId, ct) ?? new SessionTurns { Id = accept.SessionId };

        documents.AppendSessionEvent(accept.SessionId, new InputMessageReceived(accept.Message.DeepClone().AsObject()),
            new EventContext(InputMessageId: accept.MessageId));

        var input = new QueuedInput(accept.MessageId, accept.Text);
        if (state.Active is null) Turns.StartIdle(state, input, documents, next, accept.Runtime);
        else if (state.Active.Phase is TurnPhase.WaitingForToolResults or TurnPhase.PausedForBudget)
        {
            // The user moved on: the wait ends (each call gets an error result; a turn paused on its budget just ends), and
            // the next message's turn starts (and meets the budget again at its model call).
            state.Queue.Add(input);
            Turns.End(state, new TurnCancelled(state.Active.TurnId, "user sent a new message"), null, documents, next);
        }
        else state.Queue.Add(input);

        documents.Store(state);
        if (accept.Response is { } response) IdempotencyKeys.Save(documents, response);
        return next;
    }
}
