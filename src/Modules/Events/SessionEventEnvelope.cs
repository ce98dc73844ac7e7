using System.Globalization;
using System.Text.Json.Nodes;
using Everruns.Infrastructure;
using JasperFx.Events;
using Marten;

namespace Everruns.Modules.Events;

/// <summary>
/// An event as the API shows it (the schema of the envelope <see cref="SessionEventEnvelope"/> writes): its id
/// (<c>event_</c> + 32 hex), protocol type, timestamp (ms, Z), session, sequence in the session, context and payload.
/// </summary>
public sealed record EventResponse(string Id, string Type, string Ts, string SessionId, long Sequence,
    System.Text.Json.Nodes.JsonObject Context, System.Text.Json.Nodes.JsonObject Data);

/// <summary>
/// The one place an event gets its public shape: <c>{id, type, ts, session_id, sequence, context, data}</c>, from the
/// Marten event's metadata (id, type name, timestamp, stream, version, headers) and its data. Whether read from the
/// store or offered from memory after this instance's commit, an event comes out byte for byte the same: members in
/// jsonb's order, and <c>ts</c> in milliseconds with <c>Z</c> (what both the store's microseconds and memory's ticks
/// round to alike).
/// </summary>
public static class SessionEventEnvelope
{
    public static string Ts(DateTimeOffset ts) => ts.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    public static StoredEvent Create(long sequence, Guid id, string type, DateTimeOffset ts, string sessionId, JsonObject? context,
        JsonObject data)
    {
        var publicId = SessionEventWrites.PublicId(id);
        var envelope = new JsonObject
        {
            ["id"] = publicId,
            ["type"] = type,
            ["ts"] = Ts(ts),
            ["session_id"] = sessionId,
            ["sequence"] = sequence,
            ["context"] = context ?? new JsonObject(),
            ["data"] = data,
        };
        return new StoredEvent(sequence, publicId, type, ts, envelope);
    }

    /// <summary>An event this instance just committed, as a read of it would return it.</summary>
    public static StoredEvent Of(IEvent e, string sessionId, ISerializer serializer)
    {
        var data = (JsonObject)JsonbOrder(JsonNode.Parse(serializer.ToJson(e.Data)))!;
        JsonObject? context = null;
        if (e.Headers is { Count: > 0 } headers)
        {
            context = new JsonObject();
            foreach (var (key, value) in headers) context[key] = JsonValue.Create(value?.ToString());
            context = (JsonObject)JsonbOrder(context)!;
        }

        return Create(e.Version, e.Id, e.EventTypeName, e.Timestamp, sessionId, context, data);
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
            var (a, b) = (System.Text.Encoding.UTF8.GetBytes(x ?? ""), System.Text.Encoding.UTF8.GetBytes(y ?? ""));
            return a.Length != b.Length ? a.Length.CompareTo(b.Length) : a.AsSpan().SequenceCompareTo(b);
        }
    }
}
