using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Everruns.Contracts;

namespace Everruns.Modules.Execution;

/// <summary>
/// The conversations this instance's model calls read last (the <see cref="Conversation.EventTypesRead"/> events of a
/// session up to a sequence), so that the next step of a session reads only what came after, not the whole stream again:
/// without it every model call rereads every event of its session, and a long conversation costs more per turn the
/// longer it gets.
/// <para>
/// A cached conversation stays true: events are never changed or removed while their session lives, and a session's
/// events commit in the order of their sequences (each append takes the next version of the stream, which a concurrent
/// append cannot take before it commits), so a read that saw an event saw every one before it. Entries are replaced by
/// longer ones only. At most <see cref="MaxEvents"/> events are kept in all; past that the cache starts again empty.
/// </para>
/// </summary>
public sealed class ConversationCache
{
    public const int MaxEvents = 200_000;

    /// <summary>A session's conversation events, every one up to <paramref name="Through"/>, oldest first.</summary>
    public sealed record Entry(long Through, IReadOnlyList<RecordedSessionEvent> Events);

    private readonly ConcurrentDictionary<string, Entry> _entries = new();
    private long _events;

    public Entry? Get(string sessionId) => _entries.GetValueOrDefault(sessionId);

    /// <summary>
    /// Keeps the conversation unless a longer one is kept already. Its events are only read from then on, and each was
    /// passed through <see cref="Materialize"/> first.
    /// </summary>
    public void Put(string sessionId, Entry entry)
    {
        var added = entry.Events.Count;
        _entries.AddOrUpdate(sessionId, entry, (_, kept) =>
        {
            if (kept.Through >= entry.Through)
            {
                added = 0;
                return kept;
            }

            added = entry.Events.Count - kept.Events.Count;
            return entry;
        });

        Count(added);
    }

    /// <summary>
    /// Adds what a transaction of this instance appended to a session, once committed: events <paramref name="from"/>
    /// to <paramref name="through"/>, of which <paramref name="conversation"/> are the conversation's (each passed through
    /// <see cref="Materialize"/>). Kept only when the conversation kept reaches just before them (or they start the
    /// session): otherwise events that this instance did not see lie in between, and the next step reads them.
    /// </summary>
    public void Extend(string sessionId, long from, long through, IReadOnlyList<RecordedSessionEvent> conversation)
    {
        while (true)
        {
            if (!_entries.TryGetValue(sessionId, out var kept))
            {
                if (from != 1) return;
                if (_entries.TryAdd(sessionId, new Entry(through, conversation))) break;
                continue;
            }

            if (kept.Through != from - 1) return;
            var events = new List<RecordedSessionEvent>(kept.Events.Count + conversation.Count);
            events.AddRange(kept.Events);
            events.AddRange(conversation);
            if (_entries.TryUpdate(sessionId, new Entry(through, events), kept)) break;
        }

        Count(conversation.Count);
    }

    /// <summary>Counts events newly kept; past <see cref="MaxEvents"/> in all, the cache starts again empty.</summary>
    private void Count(long added)
    {
        if (Interlocked.Add(ref _events, added) <= MaxEvents) return;
        _entries.Clear();
        Interlocked.Exchange(ref _events, 0);
    }

    public void Remove(string sessionId)
    {
        if (_entries.TryRemove(sessionId, out var removed)) Interlocked.Add(ref _events, -removed.Events.Count);
    }

    /// <summary>
    /// A JSON object read from the store builds its members on first use, which is not safe from two threads at once:
    /// a cached one is built in full before others may read it.
    /// </summary>
    public static void Materialize(RecordedSessionEvent e)
    {
        switch (e.Data)
        {
            case InputMessageReceived input: Materialize(input.Message); break;
            case OutputMessageCompleted output: Materialize(output.Message); break;
            case ToolCompleted tool: Materialize(tool.Result); break;
            case ToolStarted tool: Materialize(tool.ToolCall.Arguments); break;
        }
    }

    private static void Materialize(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var (_, value) in obj) Materialize(value);
                break;
            case JsonArray array:
                foreach (var item in array) Materialize(item);
                break;
        }
    }
}
