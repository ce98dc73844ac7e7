using System.Security.Cryptography;
using Everruns.Contracts;
using Everruns.Infrastructure;
using Marten;
using Npgsql;
using NpgsqlTypes;

namespace Everruns.Modules.Events;

/// <summary>
/// A fork's first events: the parent's, copied inside the store in one statement (none is read here, however long the
/// session). Their sequences are the parent's (a stream's are 1..N without gaps); their ids are fresh and ordered as
/// the events are (UUIDv7 of the fork's time: one random prefix per fork, then the sequence).
/// </summary>
public sealed class SessionEventForks : ISessionEventForks
{
    private static readonly string[] Ends = [EventTypes.TurnCompleted, EventTypes.TurnFailed, EventTypes.TurnCancelled];

    public async Task<ForkPoint> CopyAsync(IDocumentSession documents, string parentSessionId, string forkSessionId, long? upTo,
        CancellationToken ct)
    {
        await documents.BeginTransactionAsync(ct);
        var connection = (NpgsqlConnection)documents.Connection!;

        // Turns of a session run one at a time: a turn is open at the fork point when the last turn.started there comes
        // after the last end of a turn there.
        long head, through;
        long? lastStarted, lastEnded, waitingInput;
        await using (var cmd = new NpgsqlCommand("""
            with head as (select coalesce(max(version), 0) as v from everruns.mt_events where stream_id = @s),
                 point as (select least(coalesce(@up_to, head.v), head.v) as v from head)
            select head.v, point.v,
                   (select max(version) from everruns.mt_events, point where stream_id = @s and version <= point.v and type = 'turn.started'),
                   (select max(version) from everruns.mt_events, point where stream_id = @s and version <= point.v and type = any(@ends)),
                   -- A user's message there whose turn.started is not (one hash join, whatever the session's length).
                   (select min(i.version) from
                       (select version, headers->>'input_message_id' as id from everruns.mt_events, point
                        where stream_id = @s and version <= point.v and type = 'input.message' and headers->>'turn_id' is null) i
                     left join
                       (select data->>'input_message_id' as id from everruns.mt_events, point
                        where stream_id = @s and version <= point.v and type = 'turn.started') t on t.id = i.id
                    where t.id is null)
            from head, point
            """, connection))
        {
            cmd.Parameters.AddWithValue("s", parentSessionId);
            cmd.Parameters.Add(new NpgsqlParameter("up_to", NpgsqlDbType.Bigint) { Value = (object?)upTo ?? DBNull.Value });
            cmd.Parameters.Add(new NpgsqlParameter("ends", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = Ends });
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            await reader.ReadAsync(ct);
            head = reader.GetInt64(0);
            through = reader.GetInt64(1);
            lastStarted = reader.IsDBNull(2) ? null : reader.GetInt64(2);
            lastEnded = reader.IsDBNull(3) ? null : reader.GetInt64(3);
            waitingInput = reader.IsDBNull(4) ? null : reader.GetInt64(4);
        }

        if (upTo is { } asked && asked > head) return new ForkPoint(0, head, null);
        if (lastStarted is { } started && (lastEnded is null || lastEnded < started)) return new ForkPoint(0, head, started);
        if (waitingInput is not null) return new ForkPoint(0, head, null, waitingInput);
        if (through == 0) return new ForkPoint(0, head, null);

        await using (var copy = new NpgsqlCommand("""
            insert into everruns.mt_streams (id, type, version, timestamp, created, tenant_id)
            select @fork, type, @through, now(), now(), tenant_id from everruns.mt_streams where id = @s;
            insert into everruns.mt_events (seq_id, id, stream_id, version, data, type, timestamp, tenant_id, mt_dotnet_type, headers)
            select nextval('everruns.mt_events_sequence'), (@prefix || lpad(to_hex(version), 8, '0'))::uuid, @fork, version, data, type,
                   timestamp, tenant_id, mt_dotnet_type, headers
            from everruns.mt_events where stream_id = @s and version <= @through
            order by version;
            """, connection))
        {
            copy.Parameters.AddWithValue("s", parentSessionId);
            copy.Parameters.AddWithValue("fork", forkSessionId);
            copy.Parameters.AddWithValue("through", through);
            copy.Parameters.AddWithValue("prefix", IdPrefix());
            await copy.ExecuteNonQueryAsync(ct);
        }

        return new ForkPoint(through, head, null);
    }

    /// <summary>
    /// The first 24 hex digits of the fork's event ids: the time in milliseconds (48 bits), the version 7, 12 random bits,
    /// the variant and 26 more random bits; the sequence (32 bits) follows.
    /// </summary>
    private static string IdPrefix()
    {
        var random = RandomNumberGenerator.GetBytes(6);
        var ms = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var randA = ((random[0] << 4) | (random[1] >> 4)) & 0xFFF;
        var variant = 0x8 | (random[1] & 0x3);
        var randB = ((random[2] << 16) | (random[3] << 8) | random[4]) & 0x3FFFFFF;
        // 12 + 1 + 3 + 1 + 7 hex digits: the 7 hold 26 random bits (the top digit at most 3).
        return $"{ms:x12}7{randA:x3}{variant:x1}{randB:x7}";
    }
}
