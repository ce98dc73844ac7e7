using Everruns.Contracts;
using Everruns.Infrastructure;
using System.Text.Json.Nodes;
using Npgsql;
using NpgsqlTypes;

namespace Everruns.Modules.Events;

/// <summary>What a reader wants to see of a session's events.</summary>
public sealed record EventFilter(IReadOnlyCollection<string>? Types, IReadOnlyCollection<string> Exclude, string? TurnId)
{
    public static readonly EventFilter All = new(null, [], null);

    public DateTimeOffset? FromTs { get; init; }
    public DateTimeOffset? ToTs { get; init; }
    public string? ToolName { get; init; }

    /// <summary>The event's context names this execution, trace, or one of these tags (events carry them in their context).</summary>
    public string? ExecId { get; init; }
    public string? TraceId { get; init; }
    public IReadOnlyCollection<string>? Tags { get; init; }

    /// <summary>Case-insensitive substring of the event's data.</summary>
    public string? Text { get; init; }

    /// <summary>
    /// Events of these types are wanted too, those of <see cref="TurnId"/> only; <see cref="TurnId"/> then narrows only
    /// them, and <see cref="Types"/> (required with it) come from any turn.
    /// </summary>
    public IReadOnlyCollection<string>? TurnTypes { get; init; }

    /// <summary>
    /// With <see cref="TurnTypes"/>: the <see cref="Types"/> of every turn only after this sequence, while the read itself
    /// may start lower for the turn's own types (a reader that has the earlier ones already).
    /// </summary>
    public long? TypesAfter { get; init; }

    /// <summary>Whether events of a type can pass the filter (null: every type can).</summary>
    public Func<string, bool>? WantsType => Types is null && Exclude.Count == 0
        ? null
        : _wantsType ??= type => (Types is null || Types.Contains(type) || TurnTypes?.Contains(type) == true) && !Exclude.Contains(type);

    private Func<string, bool>? _wantsType;

    /// <summary>Identifies the filter for sharing reads (equal filters, equal keys). Made once: every wake-up of a stream asks.</summary>
    public string Key => _key ??=
        $"{string.Join(",", (Types ?? []).Order())}|{string.Join(',', Exclude.Order())}|{TurnId}|{FromTs:O}|{ToTs:O}|{ToolName}|{Text}|{string.Join(",", (TurnTypes ?? []).Order())}|{TypesAfter}|{ExecId}|{TraceId}|{string.Join(",", (Tags ?? []).Order())}";

    private string? _key;

    // A copy (`with`) may change what the key is made of: it makes its own.
    private EventFilter(EventFilter original)
    {
        Types = original.Types;
        Exclude = original.Exclude;
        TurnId = original.TurnId;
        FromTs = original.FromTs;
        ToTs = original.ToTs;
        ToolName = original.ToolName;
        Text = original.Text;
        ExecId = original.ExecId;
        TraceId = original.TraceId;
        Tags = original.Tags;
        TurnTypes = original.TurnTypes;
        TypesAfter = original.TypesAfter;
    }
}

/// <summary>One event as the API shows it, with its per-session sequence and its timestamp (the envelope's <c>ts</c>, unrounded).</summary>
public sealed record StoredEvent(long Sequence, string Id, string Type, DateTimeOffset Ts, JsonObject Envelope)
{
    // Data lines carry plain JSON: no \u escapes for '+' in timestamps or for non-ASCII text.
    private static readonly System.Text.Json.JsonSerializerOptions Relaxed =
        new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly Lazy<string> _json = new(() => Envelope.ToJsonString(Relaxed));

    /// <summary>
    /// The envelope as one JSON line, made once on first use (by the first of the SSE streams sharing this event, or an
    /// API page); a module's read (the conversation of a turn) never needs it.
    /// </summary>
    public string Json => _json.Value;
}

/// <summary>A slice of a session's events, and how far the stream was looked at (<c>Head</c>).</summary>
public sealed record EventSlice(IReadOnlyList<StoredEvent> Events, long Head)
{
    private readonly Lazy<byte[]> _frames = new(() =>
    {
        var text = new System.Text.StringBuilder();
        foreach (var e in Events)
            text.Append("retry: ").Append(StreamEventsEndpoint.ActiveRetryMs).Append("\nevent: ").Append(e.Type).Append("\nid: ").Append(e.Id).Append("\ndata: ").Append(e.Json).Append("\n\n");
        return System.Text.Encoding.UTF8.GetBytes(text.ToString());
    });

    /// <summary>The slice as UTF-8 SSE frames, built and encoded once however many streams share the slice.</summary>
    public ReadOnlyMemory<byte> Frames => _frames.Value;
}

/// <summary>
/// Streams of one session wake together on each notification, mostly at the same position: identical reads in
/// flight at the same moment share one query (so 1,000 streams on a session cost one read per event, not 1,000).
/// </summary>
public sealed class SharedEventReads(SessionEventReader reader, SessionSignals signals)
{
    private readonly SingleFlight<EventSlice> _reads = new();

    public Task<EventSlice> ReadForwardAsync(string sessionId, long after, int limit, EventFilter filter) =>
        // Only readers woken by the same signal share: a read started before a newer signal may lack its event.
        _reads.RunAsync($"{sessionId}|{signals.Generation(sessionId)}|{after}|{limit}|{filter.Key}",
            () => reader.ReadForwardAsync(sessionId, after, limit, filter, CancellationToken.None));
}

/// <summary>
/// Reads session events straight from Marten's mt_events table: filtering by type and turn happens in
/// SQL on the (stream_id, version) index, and the stream head comes from the same statement's snapshot.
/// </summary>
public sealed class SessionEventReader(NpgsqlDataSource dataSource)
{
    /// <summary>
    /// The SQL conditions of a filter: only those it sets (each shape of filter is a statement of its own, prepared
    /// on the connections that run it), instead of every condition behind "@x is null or ...".
    /// </summary>
    private static string Conditions(EventFilter filter)
    {
        var sql = new System.Text.StringBuilder();
        if (filter.TurnTypes is not null)
        {
            if (filter.Types is null || filter.TurnId is null)
                throw new ArgumentException("a filter with TurnTypes needs Types and a TurnId", nameof(filter));
            var typesAfter = filter.TypesAfter is null ? "" : " and version > @types_after";
            sql.Append($" and ((type = any(@types){typesAfter}) or (type = any(@turn_types) and headers->>'turn_id' = @turn))");
        }
        else
        {
            if (filter.Types is not null) sql.Append(" and type = any(@types)");
            if (filter.TurnId is not null) sql.Append(" and headers->>'turn_id' = @turn");
        }

        if (filter.Exclude.Count > 0) sql.Append(" and not (type = any(@exclude))");
        if (filter.FromTs is not null) sql.Append(" and timestamp >= @from_ts");
        if (filter.ToTs is not null) sql.Append(" and timestamp <= @to_ts");
        if (filter.ToolName is not null)
            sql.Append(" and (data->>'tool_name' = @tool_name or data->'tool_call'->>'name' = @tool_name)");
        if (filter.Text is not null) sql.Append(" and strpos(lower(data::text), lower(@q)) > 0");
        if (filter.ExecId is not null) sql.Append(" and headers->>'exec_id' = @exec_id");
        if (filter.TraceId is not null) sql.Append(" and headers->>'trace_id' = @trace_id");
        if (filter.Tags is not null) sql.Append(" and headers->'tags' ?| @tags");
        return sql.ToString();
    }

    public async Task<long?> SequenceOfAsync(string sessionId, string eventId, CancellationToken ct)
    {
        if (SessionEventWrites.StoredId(eventId) is not { } id) return null;
        await using var cmd = dataSource.CreateCommand("select version from everruns.mt_events where stream_id = @s and id = @id");
        cmd.Parameters.AddWithValue("s", sessionId);
        cmd.Parameters.AddWithValue("id", id);
        return await cmd.ExecuteScalarAsync(ct) is long version ? version : null;
    }

    /// <summary>
    /// Events after <paramref name="after"/>, oldest first, at most <paramref name="limit"/>. The stream head
    /// comes from the same statement (one snapshot): an event committed just after the read is never taken as
    /// already seen when a filter let nothing through.
    /// </summary>
    public async Task<EventSlice> ReadForwardAsync(string sessionId, long after, int limit, EventFilter filter, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand($"""
            select head.version, e.version, e.id, e.type, e.timestamp, e.headers, e.data
            from (select coalesce(max(version), 0) as version from everruns.mt_events where stream_id = @s) head
            left join lateral (
                select {Columns} from everruns.mt_events
                where stream_id = @s and version > @after{Conditions(filter)}
                order by version limit @limit) e on true
            order by e.version
            """);
        cmd.Parameters.AddWithValue("s", sessionId);
        cmd.Parameters.AddWithValue("after", after);
        cmd.Parameters.AddWithValue("limit", limit);
        AddFilter(cmd, filter);

        var events = new List<StoredEvent>();
        long head = after;
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            head = Math.Max(head, reader.GetInt64(0));
            if (!reader.IsDBNull(1))
                events.Add(Read(reader, 1, sessionId));
        }

        // A full page may stop short of the head: the next read continues after its last event.
        return new EventSlice(events, events.Count == limit ? events[^1].Sequence : head);
    }

    /// <summary>The last <paramref name="limit"/> events before <paramref name="before"/> (all when null), oldest first.</summary>
    public async Task<IReadOnlyList<StoredEvent>> ReadBackwardAsync(string sessionId, long? before, int limit, EventFilter filter, CancellationToken ct)
    {
        var events = await QueryAsync($"""
            select {Columns} from everruns.mt_events
            where stream_id = @s and version < @before{Conditions(filter)}
            order by version desc limit @limit
            """, sessionId, before ?? long.MaxValue, limit, filter, ct, parameterName: "before");
        return Enumerable.Reverse(events).ToList();
    }

    /// <summary>The events at positions <paramref name="offset"/> to <paramref name="offset"/> + <paramref name="limit"/> among those the filter lets through.</summary>
    public Task<List<StoredEvent>> ReadPageAsync(string sessionId, int offset, int limit, EventFilter filter, CancellationToken ct) =>
        QueryAsync($"""
            select {Columns} from everruns.mt_events
            where stream_id = @s{Conditions(filter)}
            order by version offset @offset limit @limit
            """, sessionId, offset, limit, filter, ct, parameterName: "offset");

    /// <summary>
    /// The filtered events' count, and (one statement) how many of them are not streaming deltas
    /// (<see cref="EventTypes.Deltas"/>: what the event list's <c>X-Total-Count</c> counts).
    /// </summary>
    public async Task<(long All, long WithoutDeltas)> CountsAsync(string sessionId, EventFilter filter, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand(
            $"select count(*), count(*) filter (where not (type = any(@deltas))) from everruns.mt_events where stream_id = @s{Conditions(filter)}");
        cmd.Parameters.AddWithValue("s", sessionId);
        cmd.Parameters.Add(new NpgsqlParameter("deltas", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = EventTypes.Deltas.ToArray() });
        AddFilter(cmd, filter);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        return (reader.GetInt64(0), reader.GetInt64(1));
    }

    public async Task<long> CountAsync(string sessionId, EventFilter filter, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand($"select count(*) from everruns.mt_events where stream_id = @s{Conditions(filter)}");
        cmd.Parameters.AddWithValue("s", sessionId);
        AddFilter(cmd, filter);
        return (long)(await cmd.ExecuteScalarAsync(ct))!;
    }

    private async Task<List<StoredEvent>> QueryAsync(string sql, string sessionId, long bound, int limit, EventFilter filter,
        CancellationToken ct, string parameterName = "after")
    {
        await using var cmd = dataSource.CreateCommand(sql);
        cmd.Parameters.AddWithValue("s", sessionId);
        cmd.Parameters.AddWithValue(parameterName, bound);
        cmd.Parameters.AddWithValue("limit", limit);
        AddFilter(cmd, filter);

        var events = new List<StoredEvent>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
            events.Add(Read(reader, 0, sessionId));
        return events;
    }

    /// <summary>The parameters of the conditions <see cref="Conditions"/> wrote.</summary>
    private static void AddFilter(NpgsqlCommand cmd, EventFilter filter)
    {
        if (filter.Types is not null)
            cmd.Parameters.Add(new NpgsqlParameter("types", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = filter.Types.ToArray() });
        if (filter.TurnTypes is not null)
            cmd.Parameters.Add(new NpgsqlParameter("turn_types", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = filter.TurnTypes.ToArray() });
        if (filter is { TurnTypes: not null, TypesAfter: { } typesAfter })
            cmd.Parameters.Add(new NpgsqlParameter("types_after", NpgsqlDbType.Bigint) { Value = typesAfter });
        if (filter.Exclude.Count > 0)
            cmd.Parameters.Add(new NpgsqlParameter("exclude", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = filter.Exclude.ToArray() });
        if (filter.TurnId is not null) cmd.Parameters.Add(new NpgsqlParameter("turn", NpgsqlDbType.Text) { Value = filter.TurnId });
        if (filter.FromTs is not null) cmd.Parameters.Add(new NpgsqlParameter("from_ts", NpgsqlDbType.TimestampTz) { Value = filter.FromTs.Value });
        if (filter.ToTs is not null) cmd.Parameters.Add(new NpgsqlParameter("to_ts", NpgsqlDbType.TimestampTz) { Value = filter.ToTs.Value });
        if (filter.ToolName is not null) cmd.Parameters.Add(new NpgsqlParameter("tool_name", NpgsqlDbType.Text) { Value = filter.ToolName });
        if (filter.Text is not null) cmd.Parameters.Add(new NpgsqlParameter("q", NpgsqlDbType.Text) { Value = filter.Text });
        if (filter.ExecId is not null) cmd.Parameters.Add(new NpgsqlParameter("exec_id", NpgsqlDbType.Text) { Value = filter.ExecId });
        if (filter.TraceId is not null) cmd.Parameters.Add(new NpgsqlParameter("trace_id", NpgsqlDbType.Text) { Value = filter.TraceId });
        if (filter.Tags is not null)
            cmd.Parameters.Add(new NpgsqlParameter("tags", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = filter.Tags.ToArray() });
    }

    /// <summary>What <see cref="Read"/> reads of an event, in its order.</summary>
    private const string Columns = "version, id, type, timestamp, headers, data";

    /// <summary>The event of the reader's row whose <see cref="Columns"/> start at <paramref name="first"/>.</summary>
    private static StoredEvent Read(NpgsqlDataReader reader, int first, string sessionId) => SessionEventEnvelope.Create(
        reader.GetInt64(first), reader.GetGuid(first + 1), reader.GetString(first + 2), reader.GetFieldValue<DateTimeOffset>(first + 3),
        sessionId, reader.IsDBNull(first + 4) ? null : Stored(reader, first + 4), Stored(reader, first + 5));

    // jsonb read as UTF-8 straight into a document (no intermediate string); the object reads from it lazily. The
    // document is not disposed: the object keeps using it, and its buffers go with it.
    private static JsonObject Stored(NpgsqlDataReader reader, int ordinal) =>
        JsonObject.Create(reader.GetFieldValue<System.Text.Json.JsonDocument>(ordinal).RootElement)!;

    /// <summary>Removes the member from the object and returns it (null when absent), free to join another parent.</summary>
    internal static JsonNode? Take(JsonObject from, string key)
    {
        if (!from.TryGetPropertyValue(key, out var value)) return null;
        from.Remove(key);
        return value;
    }
}
