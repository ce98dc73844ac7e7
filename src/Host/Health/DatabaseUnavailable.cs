using System.Net.Sockets;
using Everruns.Contracts;
using Microsoft.AspNetCore.Diagnostics;
using Npgsql;

namespace Everruns.Host.Health;

/// <summary>
/// A request that fails because PostgreSQL is down, restarting or out of connections answers 503
/// <c>database_unavailable</c> with Retry-After, not 500: the client may retry, and nothing was half-written
/// (the transaction never committed). The pool recovers by itself when the server is back.
/// </summary>
public sealed class DatabaseUnavailable(ILogger<DatabaseUnavailable> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken ct)
    {
        if (!IsDatabaseOutage(exception) || context.Response.HasStarted) return false;
        logger.LogWarning("Database unavailable for {Method} {Path}: {Error}", context.Request.Method, context.Request.Path,
            exception.GetBaseException().Message);
        context.Response.Headers.RetryAfter = "2";
        await Problems.Result(Problems.Create(StatusCodes.Status503ServiceUnavailable, "database_unavailable",
            "the database is unavailable; retry shortly")).ExecuteAsync(context);
        return true;
    }

    public static bool IsDatabaseOutage(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case PostgresException pg:
                    // 08: connection exceptions; 57P0x: shutting down / cannot connect now; 53300: too many
                    // connections; 55000 with this message: the database is closed to connections (maintenance).
                    return pg.SqlState.StartsWith("08", StringComparison.Ordinal) || pg.SqlState.StartsWith("57P0", StringComparison.Ordinal)
                           || pg.SqlState == "53300"
                           || (pg.SqlState == "55000" && pg.MessageText.Contains("not currently accepting connections", StringComparison.Ordinal));
                case NpgsqlException { IsTransient: true }:
                case SocketException:
                    return true;
                case NpgsqlException npgsql when npgsql.InnerException is TimeoutException:
                    return true; // pool exhausted or connect timeout
            }
        }

        return false;
    }
}
