using Everruns.Contracts;
using Everruns.Infrastructure;
using Marten;
using Marten.Services;

namespace Everruns.Modules.Execution;

/// <summary>
/// After each commit of this instance, the conversation events it appended go to the instance's kept conversation
/// (<see cref="ConversationCache.Extend"/>), so that the model call a transaction starts (a posted message's turn, the
/// next iteration after tools) finds its whole conversation kept and reads nothing (see <see cref="StepMemory"/>).
/// </summary>
public sealed class KeepCommittedConversation(ConversationCache conversations) : DocumentSessionListenerBase
{
    public override Task AfterCommitAsync(IDocumentSession session, IChangeSet commit, CancellationToken token)
    {
        foreach (var stream in commit.GetStreams())
        {
            if (stream.Key is not { } sessionId || stream.Events.Count == 0) continue;
            try
            {
                var kept = new List<RecordedSessionEvent>();
                foreach (var e in stream.Events)
                {
                    if (e.Data is not ISessionEventData data || !Conversation.EventTypesRead.Contains(e.EventTypeName)) continue;
                    var recorded = new RecordedSessionEvent(e.Version, SessionEventWrites.PublicId(e.Id), e.Timestamp,
                        SessionEventWrites.ContextOf(e), data);
                    ConversationCache.Materialize(recorded);
                    kept.Add(recorded);
                }

                conversations.Extend(sessionId, stream.Events[0].Version, stream.Events[^1].Version, kept);
            }
            catch (Exception)
            {
                // The transaction committed: its handler must not fail now. Not kept (what was kept stays true), these
                // events are read by the next step.
            }
        }

        return Task.CompletedTask;
    }
}
