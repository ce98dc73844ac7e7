using Everruns.Contracts;
using Marten;

namespace Everruns.Modules.Events;

/// <summary>
/// Payloads of <c>event_available</c>. This build sends one per session and transaction,
/// <c>&lt;session id&gt;:types=&lt;type&gt;,&lt;type&gt;...:</c> (the distinct types of its events, in order); the trigger
/// sends <c>&lt;session id&gt;:&lt;sequence&gt;:&lt;type&gt;</c> per event for writers of earlier builds. An instance of an
/// earlier build reads the first form as a notification without a type, which wakes every waiter of the session.
/// </summary>
public static class EventNotification
{
    private const string TypesPrefix = "types=";

    public static string Format(string sessionId, IEnumerable<string> types) => $"{sessionId}:{TypesPrefix}{string.Join(',', types)}:";

    /// <summary>The session and the types named (null: any type), or no session when the payload is not one of ours.</summary>
    public static (string? SessionId, IReadOnlyList<string>? Types) Parse(string payload)
    {
        var first = payload.IndexOf(':');
        if (first <= 0) return (null, null);
        var sessionId = payload[..first];
        var rest = payload.AsSpan(first + 1);
        if (rest.StartsWith(TypesPrefix) && rest.EndsWith(":"))
        {
            var types = rest[TypesPrefix.Length..^1].ToString().Split(',', StringSplitOptions.RemoveEmptyEntries);
            return (sessionId, types.Length == 0 ? null : types);
        }

        var second = rest.IndexOf(':');
        return second >= 0 && second < rest.Length - 1 ? (sessionId, [rest[(second + 1)..].ToString()]) : (sessionId, null);
    }
}

/// <summary>
/// On every Marten session: a transaction that appends session events also notifies <c>event_available</c>, once per
/// session, naming the types it appends (delivered when it commits). A writer holding the session's lock
/// (<see cref="SessionStream"/>) has told the event table's trigger to leave those rows to this.
/// </summary>
public sealed class EventAnnouncer : Marten.DocumentSessionListenerBase
{
    public override Task BeforeSaveChangesAsync(IDocumentSession session, CancellationToken token)
    {
        foreach (var stream in session.PendingChanges.Streams())
        {
            if (stream.Key is null || stream.Events.Count == 0) continue;
            var types = stream.Events.Select(e => (e.Data as SessionEvent)?.Type).ToList();
            // An event of another kind has no type to name: the notification then names none (every waiter wakes).
            var named = types.Any(t => t is null) ? [] : types.Distinct()!;
            session.QueueSqlCommand("select pg_notify('event_available', ?)", EventNotification.Format(stream.Key, named!));
        }

        return Task.CompletedTask;
    }
}
