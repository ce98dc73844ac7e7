using Everruns.Contracts;

namespace Everruns.Modules.Events;

/// <summary>Answers other modules' <see cref="ReadSessionEvents"/> (the conversation for a turn) and <see cref="PageSessionEvents"/> (the message list).</summary>
public static class ReadEventsHandler
{
    public static async Task<SessionEventsRead> Handle(ReadSessionEvents query, SessionEventReader reader, CancellationToken ct)
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
        return new SessionEventsRead(slice.Events.Select(Recorded).ToList());
    }

    public static async Task<SessionEventsPage> Handle(PageSessionEvents query, SessionEventReader reader, CancellationToken ct)
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
