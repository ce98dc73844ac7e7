using System.Text.Json;
using Everruns.Contracts;

namespace Everruns.Modules.Events;

/// <summary>What other modules read of a session's events: the conversation for a turn, and the message list's pages.</summary>
public sealed class SessionEventLog(SessionEventReader reader) : ISessionEventLog
{
    public async Task<IReadOnlyList<RecordedSessionEvent>> ReadAsync(ReadSessionEvents query, CancellationToken ct = default)
    {
        var filter = new EventFilter(query.Types, [], query.TurnId) { TurnTypes = query.TurnTypes };
        var after = query.AfterSequence;
        if (query is { TurnTypes: not null, TurnAfterSequence: { } turnAfter } && turnAfter < after)
        {
            // The turn's own types from further back than the others: the read starts there, the others after theirs.
            filter = filter with { TypesAfter = after };
            after = turnAfter;
        }

        var slice = await reader.ReadForwardAsync(query.SessionId, after, query.Limit, filter, ct);
        return Recorded(slice.Events).ToList();
    }

    public async Task<SessionEventsPage> PageAsync(PageSessionEvents query, CancellationToken ct = default)
    {
        var filter = new EventFilter(query.Types, [], null);
        var total = await reader.CountAsync(query.SessionId, filter, ct);
        var events = query.Offset >= total
            ? []
            : await reader.ReadPageAsync(query.SessionId, query.Offset, query.Limit, filter, ct);
        return new SessionEventsPage(Recorded(events).ToList(), total);
    }

    private static readonly System.Text.Json.JsonSerializerOptions Records =
        new() { PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.SnakeCaseLower };

    // The events were read for this answer alone (not shared with SSE streams): their data moves here, uncopied. An event
    // of a type this build has no record for (written by a later one) is left out.
    private static IEnumerable<RecordedSessionEvent> Recorded(IEnumerable<StoredEvent> events)
    {
        foreach (var e in events)
        {
            if (!EventTypes.Records.TryGetValue(e.Type, out var record)) continue;
            var context = e.Envelope["context"];
            yield return new RecordedSessionEvent(e.Sequence, e.Id, e.Ts, new EventContext((string?)context?["turn_id"], (string?)context?["input_message_id"]),
                (ISessionEventData)SessionEventReader.Take(e.Envelope, "data")!.Deserialize(record, Records)!);
        }
    }
}
