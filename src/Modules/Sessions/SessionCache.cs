using System.Collections.Concurrent;
using Everruns.Contracts;
using Everruns.Infrastructure;

namespace Everruns.Modules.Sessions;

/// <summary>
/// What <see cref="SessionDirectory"/> answers about live sessions, cached per instance:
/// a session's org and runtime settings never change once it is created (PATCH changes only its title, tags and
/// locale), so the lookup every POST, SSE connection and event read makes needs no query after the first.
/// <para>
/// A deletion evicts the session here at once and on every other instance through <see cref="SessionChanges"/>. The
/// cache is served only while the instance's LISTEN connection is up (a notification missed while it was down could
/// leave a deleted session cached) and is emptied when it comes back. Entries also expire after <see cref="Ttl"/>: a
/// session deleted by another writer, which announces nothing (a repair by hand), is refused everywhere within it.
/// Deleted and unknown sessions are never cached (a session created on another instance is found at once).
/// </para>
/// </summary>
public sealed class SessionCache(TimeProvider clock)
{
    public static readonly TimeSpan Ttl = TimeSpan.FromSeconds(60);
    private const int MaxEntries = 100_000;

    private readonly ConcurrentDictionary<string, (SessionFound Found, DateTimeOffset Until)> _entries = new();
    private long _evictions;
    private volatile bool _serving;

    /// <summary>Counts evictions: a lookup notes it before its query and caches its answer only if none came meanwhile.</summary>
    public long Evictions => Interlocked.Read(ref _evictions);

    public SessionFound? Get(string id)
    {
        if (!_serving || !_entries.TryGetValue(id, out var entry)) return null;
        if (entry.Until > clock.GetUtcNow()) return entry.Found;
        _entries.TryRemove(new KeyValuePair<string, (SessionFound, DateTimeOffset)>(id, entry));
        return null;
    }

    /// <summary>Caches a live session read after <paramref name="evictionsBefore"/> was noted, unless an eviction came since.</summary>
    public void Put(string id, SessionFound found, long evictionsBefore)
    {
        if (!_serving || found.Session is null) return;
        if (_entries.Count >= MaxEntries) _entries.Clear();
        _entries[id] = (found, clock.GetUtcNow() + Ttl);
        // An eviction between the query and here may be about this session, read just before it was deleted.
        if (Evictions != evictionsBefore) _entries.TryRemove(id, out _);
    }

    public void Evict(string id)
    {
        Interlocked.Increment(ref _evictions);
        _entries.TryRemove(id, out _);
    }

    /// <summary>The LISTEN connection is up (again): whatever was cached before may have missed a deletion.</summary>
    public void Listening()
    {
        EvictAll();
        _serving = true;
    }

    /// <summary>The LISTEN connection is down: deletions elsewhere would go unnoticed, so nothing is served.</summary>
    public void Deaf()
    {
        _serving = false;
        EvictAll();
    }

    private void EvictAll()
    {
        Interlocked.Increment(ref _evictions);
        _entries.Clear();
    }
}

/// <summary>
/// The <c>session_changed</c> channel: a session's deletion is announced in its transaction with the session's id, and
/// every instance (the deleting one too) evicts it from its <see cref="SessionCache"/>.
/// </summary>
public sealed class SessionChanges(SessionCache cache) : NotificationListener(ChannelName)
{
    public const string ChannelName = "session_changed";

    /// <summary>Queued in the deleting transaction: delivered when it commits.</summary>
    public static void Announce(Marten.IDocumentSession documents, string sessionId) =>
        documents.QueueSqlCommand("select pg_notify('" + ChannelName + "', ?)", sessionId);

    protected override void OnNotification(string payload) => cache.Evict(payload);

    protected override Task OnListeningAsync(CancellationToken ct)
    {
        cache.Listening();
        return Task.CompletedTask;
    }

    protected override void OnConnectionLost() => cache.Deaf();
}
