using Npgsql;

namespace Everruns.Infrastructure;

/// <summary>
/// The event store's sequence found behind the stored events: an append refused because its sequence number is taken
/// (<c>pkey_mt_events_seq_id</c>). Seen once in a while after PostgreSQL restarts under load (a CI run of the restart
/// test); each append takes a number from the sequence, so the refusal repeats until the sequence is past the events.
/// The repair moves it there, never back; the refused write's transaction rolled back, and is retried.
/// </summary>
public static class EventSequence
{
    public const string Constraint = "pkey_mt_events_seq_id";

    public static bool IsBehind(Exception? exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
            if (e is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation, ConstraintName: Constraint }) return true;
        return false;
    }

    public static async Task RepairAsync(NpgsqlDataSource dataSource, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("""
            select setval('everruns.mt_events_sequence',
                          greatest((select last_value from everruns.mt_events_sequence), (select coalesce(max(seq_id), 1) from everruns.mt_events)))
            """);
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
