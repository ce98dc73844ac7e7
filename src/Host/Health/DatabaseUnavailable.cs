using Everruns.Infrastructure;
using Microsoft.AspNetCore.Diagnostics;

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
        if (!TransientDatabaseErrors.IsOutage(exception) || context.Response.HasStarted) return false;
        logger.LogWarning("Database unavailable for {Method} {Path}: {Error}", context.Request.Method, context.Request.Path,
            exception.GetBaseException().Message);
        context.Response.Headers.RetryAfter = "2";
        await Problems.Result(Problems.Create(StatusCodes.Status503ServiceUnavailable, "database_unavailable",
            "the database is unavailable; retry shortly")).ExecuteAsync(context);
        return true;
    }
}
