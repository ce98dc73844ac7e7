using Everruns.Contracts;
using Marten;
using Wolverine;

namespace Everruns.Modules.Execution;

/// <summary>A posted message starts a turn, or waits in the session's queue behind the running one.</summary>
public static class StartTurnHandler
{
    public static async Task<OutgoingMessages> Handle(MessagePosted posted, IDocumentSession documents)
    {
        var state = await Turns.LoadLockedAsync(documents, posted.SessionId) ?? new SessionTurns { Id = posted.SessionId };
        var next = new OutgoingMessages();
        var input = new QueuedInput(posted.MessageId, posted.Text);
        if (state.Active is null)
        {
            Turns.Start(state, input, documents, next);
            next.Add(new SessionActivityChanged(posted.SessionId, SessionStatuses.Active, DateTimeOffset.UtcNow, null));
        }
        else
        {
            state.Queue.Add(input);
        }

        documents.Store(state);
        return next;
    }
}
