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
        return slice.Events.Select(Recorded).ToList();
    }

    public async Task<SessionEventsPage> PageAsync(PageSessionEvents query, CancellationToken ct = default)
    {
        var filter = new EventFilter(query.Types, [], null);
        var total = await reader.CountAsync(query.SessionId, filter, ct);
        var events = query.Offset >= total
            ? []
            : await reader.ReadPageAsync(query.SessionId, query.Offset, query.Limit, filter, ct);
        return new SessionEventsPage(events.Select(Recorded).ToList(), total);
    }

    // The events were read for this answer alone (not shared with SSE streams): their data moves here, uncopied.
    private static RecordedSessionEvent Recorded(StoredEvent e) => new(
        e.Sequence, e.Id, e.Type,
        e.Envelope["ts"]!.GetValue<DateTimeOffset>(),
        new EventContext((string?)e.Envelope["context"]?["turn_id"], (string?)e.Envelope["context"]?["input_message_id"]),
        SessionEventReader.Take(e.Envelope, "data")!.AsObject());
}
