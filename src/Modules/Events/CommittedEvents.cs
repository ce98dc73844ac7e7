using System.Text;
using System.Text.Json.Nodes;
using Everruns.Contracts;
using Marten;
using JasperFx.Events;
using Marten.Services;
using Microsoft.Extensions.DependencyInjection;

namespace Everruns.Modules.Events;

/// <summary>
/// After each commit of this instance, the events it appended to a session that has SSE streams here go to that
/// session's live loop (<see cref="SessionFanOut.Committed"/>), which writes them without reading them back from the
/// store. Each is shaped exactly as a read returns it: serialized as it was stored, its members in the order PostgreSQL's
/// jsonb keeps them (shorter keys first, then bytewise), so a stream's bytes do not depend on which way an event came.
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
            if (stream.Events.Any(e => e.Data is not SessionEvent)) continue; // not a session's stream: nobody listens
            // First the session's loop here, from memory; then every instance's loops, which find these already sent here.
            if (fanOut.Serves(sessionId)) Offer(session, fanOut, sessionId, stream);
            try
            {
                Notifier.Committed(sessionId, stream.Events[^1].Version, stream.Events.Select(e => ((SessionEvent)e.Data).Type));
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
            foreach (var e in stream.Events)
            {
                var stored = (JsonObject)JsonbOrder(JsonNode.Parse(serializer.ToJson(e.Data)))!;
                events.Add(SessionEventReader.ToEnvelope(e.Version, stored));
            }

            fanOut.Committed(sessionId, session, new(stream.Events[0].Version, stream.Events[^1].Version, events));
        }
        catch (Exception)
        {
            // The transaction committed: its handler must not fail now. The loop reads these events instead.
            fanOut.Expected(sessionId, session);
        }
    }

    /// <summary>The node with every object's members in jsonb's order: by the length of their UTF-8 name, then bytewise.</summary>
    public static JsonNode? JsonbOrder(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject obj:
                var members = obj.ToList();
                obj.Clear();
                var ordered = new JsonObject();
                foreach (var (key, value) in members.OrderBy(m => m.Key, JsonbKeyOrder.Instance)) ordered[key] = JsonbOrder(value);
                return ordered;
            case JsonArray array:
                var items = array.ToList();
                array.Clear();
                var copy = new JsonArray();
                foreach (var item in items) copy.Add(JsonbOrder(item));
                return copy;
            default:
                return node;
        }
    }

    /// <summary>jsonb's order of an object's keys: the shorter UTF-8 name first, then bytewise.</summary>
    private sealed class JsonbKeyOrder : IComparer<string>
    {
        public static readonly JsonbKeyOrder Instance = new();

        public int Compare(string? x, string? y)
        {
            var (a, b) = (Encoding.UTF8.GetBytes(x ?? ""), Encoding.UTF8.GetBytes(y ?? ""));
            return a.Length != b.Length ? a.Length.CompareTo(b.Length) : a.AsSpan().SequenceCompareTo(b);
        }
    }
}
