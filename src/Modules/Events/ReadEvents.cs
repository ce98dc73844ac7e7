using Everruns.Contracts;

namespace Everruns.Modules.Events;

/// <summary>Answers other modules' <see cref="ReadSessionEvents"/> (the conversation for a turn, the message list).</summary>
public static class ReadEventsHandler
{
    public static async Task<SessionEventsRead> Handle(ReadSessionEvents query, SessionEventReader reader, CancellationToken ct)
    {
        var filter = new EventFilter(query.Types, [], query.TurnId) { TurnTypes = query.TurnTypes };
        var slice = await reader.ReadForwardAsync(query.SessionId, query.AfterSequence, query.Limit, filter, ct);
        return new SessionEventsRead(slice.Events.Select(e => new RecordedSessionEvent(
            e.Sequence, e.Id, e.Type,
            e.Envelope["ts"]!.GetValue<DateTimeOffset>(),
            new EventContext((string?)e.Envelope["context"]?["turn_id"], (string?)e.Envelope["context"]?["input_message_id"]),
            // The slice was read for this answer alone (not shared with SSE streams): its data moves here, uncopied.
            SessionEventReader.Take(e.Envelope, "data")!.AsObject())).ToList());
    }
}
