using System.Net.Sockets;
using Npgsql;

namespace Everruns.Infrastructure;

/// <summary>
/// Which database failures pass by themselves: the server down, restarting, out of connections or unreachable, and a
/// transaction chosen as a serialization or deadlock victim. Such a failure is retried (a message) or answered 503 (a
/// request), never turned into a failed turn. Classified by type, SQL state and inner exceptions (Marten and Wolverine
/// wrap Npgsql's), never by message text.
/// </summary>
public static class TransientDatabaseErrors
{
    public static bool IsTransient(Exception exception) => Find(exception, includeConflicts: true);

    /// <summary>The database cannot be reached right now (a request answers 503 <c>database_unavailable</c>).</summary>
    public static bool IsOutage(Exception exception) => Find(exception, includeConflicts: false);

    private static bool Find(Exception? exception, bool includeConflicts)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case AggregateException aggregate:
                    return aggregate.InnerExceptions.Any(inner => Find(inner, includeConflicts));
                case PostgresException pg:
                    return IsOutageState(pg) || (includeConflicts && pg.SqlState is PostgresErrorCodes.SerializationFailure
                        or PostgresErrorCodes.DeadlockDetected);
                case NpgsqlException { IsTransient: true }:
                case SocketException:
                case NpgsqlException { InnerException: TimeoutException }: // pool exhausted or connect timeout
                    return true;
            }
        }

        return false;
    }

    /// <summary>
    /// 08: connection exceptions; 57P01-57P03: shutting down, crash recovery, cannot connect now; 53300: too many
    /// connections; 55000 with this text: the database is closed to connections (maintenance).
    /// </summary>
    private static bool IsOutageState(PostgresException pg) =>
        pg.SqlState.StartsWith("08", StringComparison.Ordinal) || pg.SqlState.StartsWith("57P0", StringComparison.Ordinal)
        || pg.SqlState == PostgresErrorCodes.TooManyConnections
        || (pg.SqlState == PostgresErrorCodes.ObjectNotInPrerequisiteState
            && pg.MessageText.Contains("not currently accepting connections", StringComparison.Ordinal));
}
