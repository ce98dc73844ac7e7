using Everruns.Contracts;
using JasperFx.Events;
using Marten;

namespace Everruns.Infrastructure;

/// <summary>
/// How an event of the protocol is appended to its session's Marten stream: the record is the event's data; its public
/// id is the Marten event id (a UUIDv7, time-ordered); its context (turn, input message) the event's headers, which the
/// wire shows as <c>context</c> as they are.
/// </summary>
public static class SessionEventWrites
{
    public const string TurnIdHeader = "turn_id";
    public const string InputMessageIdHeader = "input_message_id";

    /// <summary>Appends the event to the session's stream in the caller's transaction; the returned event has its version once committed.</summary>
    public static IEvent AppendSessionEvent(this IDocumentSession documents, string sessionId, ISessionEventData data, EventContext context)
    {
        var e = documents.Events.BuildEvent(data);
        e.Id = Guid.CreateVersion7();
        if (context.TurnId is { } turnId) e.SetHeader(TurnIdHeader, turnId);
        if (context.InputMessageId is { } inputMessageId) e.SetHeader(InputMessageIdHeader, inputMessageId);
        documents.Events.Append(sessionId, e);
        EverrunsMetrics.EventsWritten.Add();
        return e;
    }

    /// <summary>The public id of a stored event (<c>event_</c> and its Marten id's 32 hex digits).</summary>
    public static string PublicId(Guid id) => $"{Ids.Event}_{id:N}";

    /// <summary>The Marten id of a public event id; null when it is not one.</summary>
    public static Guid? StoredId(string publicId) =>
        Ids.IsValid(publicId, Ids.Event) && Guid.TryParseExact(publicId.AsSpan(Ids.Event.Length + 1), "N", out var id) ? id : null;

    /// <summary>The context an event was appended with.</summary>
    public static EventContext ContextOf(IEvent e) =>
        new(e.GetHeader(TurnIdHeader) as string, e.GetHeader(InputMessageIdHeader) as string);
}
