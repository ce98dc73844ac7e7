using Everruns.Infrastructure;
using JasperFx;
using Microsoft.AspNetCore.Diagnostics;
using Npgsql;

namespace Everruns.Host.Health;

/// <summary>
/// Two requests racing to write the same thing (the same agent name, the same document version) end in a unique or
/// optimistic-concurrency violation (or a serialization failure or deadlock) for one of them: 409 <c>conflict</c>, never 500. Its transaction rolled back.
/// </summary>
public sealed class ConflictingWrite(NpgsqlDataSource dataSource) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken ct)
    {
        if (!IsConflict(exception) || context.Response.HasStarted) return false;
        // An append refused for a sequence number already taken: the sequence is moved past the events for the retry.
        if (EventSequence.IsBehind(exception)) await EventSequence.RepairAsync(dataSource, ct);
        await Problems.Result(Problems.Conflict("conflict",
            "another request changed the same resource at the same time; nothing was written, retry")).ExecuteAsync(context);
        return true;
    }

    private static bool IsConflict(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
            if (e is ConcurrencyException or PostgresException { SqlState: PostgresErrorCodes.UniqueViolation
                    or PostgresErrorCodes.SerializationFailure or PostgresErrorCodes.DeadlockDetected })
                return true;
        return false;
    }
}
