using Everruns.Contracts;
using Marten;
using JasperFx.Events;
using Marten.Services;
using Microsoft.Extensions.DependencyInjection;

namespace Everruns.Modules.Events;

/// <summary>
/// After each commit of this instance, the events it appended to a session that has SSE streams here go to that
/// session's live loop (<see cref="SessionFanOut.Committed"/>), which writes them without reading them back from the
/// store. Each is shaped exactly as a read returns it (<see cref="SessionEventEnvelope.Of"/>), so a stream's bytes do not
/// depend on which way an event came.
/// Then every instance is told of them (<see cref="EventNotifier"/>).
/// </summary>
public sealed class CommittedEvents(IServiceProvider services) : DocumentSessionListenerBase
{
    private SessionFanOut? _fanOut;
    private EventNotifier? _notifier;

    private SessionFanOut FanOut => _fanOut ??= services.GetRequiredService<SessionFanOut>();
    private EventNotifier Notifier => _notifier ??= services.GetRequiredService<EventNotifier>();

    /// <summary>
    /// Before the events are written: the session's loop is told to expect them, so that a notification of them arriving
    /// before they are offered does not send it reading them from the store.
    /// </summary>
    public override Task BeforeSaveChangesAsync(IDocumentSession session, CancellationToken token)
    {
        foreach (var stream in session.PendingChanges.Streams())
            if (stream.Key is { } sessionId && stream.Events.Count > 0) FanOut.Expect(sessionId, session);
        return Task.CompletedTask;
    }

    public override Task AfterCommitAsync(IDocumentSession session, IChangeSet commit, CancellationToken token)
    {
        var fanOut = FanOut;
        foreach (var stream in commit.GetStreams())
        {
            if (stream.Key is not { } sessionId || stream.Events.Count == 0) continue;
            if (stream.Events.Any(e => e.Data is not ISessionEventData)) continue; // not a session's stream: nobody listens
            // First the session's loop here, from memory; then every instance's loops, which find these already sent here.
            if (fanOut.Serves(sessionId)) Offer(session, fanOut, sessionId, stream);
            try
            {
                Notifier.Committed(sessionId, stream.Events[^1].Version, stream.Events.Select(e => e.EventTypeName));
            }
            catch (Exception)
            {
                // Committed: never fail the handler now (a process stopping). The other instances catch up by themselves.
            }
        }

        return Task.CompletedTask;
    }

    private static void Offer(IDocumentSession session, SessionFanOut fanOut, string sessionId, StreamAction stream)
    {
        try
        {
            var serializer = session.DocumentStore.Options.Serializer();
            var events = new List<StoredEvent>(stream.Events.Count);
            foreach (var e in stream.Events) events.Add(SessionEventEnvelope.Of(e, sessionId, serializer));

            fanOut.Committed(sessionId, session, new(stream.Events[0].Version, stream.Events[^1].Version, events));
        }
        catch (Exception)
        {
            // The transaction committed: its handler must not fail now. The loop reads these events instead.
            fanOut.Expected(sessionId, session);
        }
    }
}
