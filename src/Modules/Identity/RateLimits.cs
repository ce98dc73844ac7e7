using System.Collections.Concurrent;
using System.Globalization;
using Everruns.Contracts;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Npgsql;

namespace Everruns.Modules.Identity;

/// <summary>One hit on a fixed-window counter: the count in the current window and the time left in it.</summary>
public interface IRateLimitStore
{
    Task<(long Count, TimeSpan ResetIn)> HitAsync(string key, TimeSpan window, CancellationToken ct);
}

/// <summary>
/// Cluster-wide counters in the UNLOGGED table <c>everruns.rate_limits</c>: one row per org and route, overwritten
/// as windows roll (so the table never grows), windows aligned on the database clock that every instance shares.
/// </summary>
public sealed class PostgresRateLimitStore(NpgsqlDataSource dataSource) : IRateLimitStore
{
    public async Task<(long Count, TimeSpan ResetIn)> HitAsync(string key, TimeSpan window, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        var row = (await connection.ListAsync("""
            insert into everruns.rate_limits as r (key, window_start, count)
            values ($1, to_timestamp(floor(extract(epoch from clock_timestamp())::float8 / $2) * $2), 1)
            on conflict (key) do update set
                count = case when r.window_start = excluded.window_start then r.count + 1 else 1 end,
                window_start = excluded.window_start
            returning count, extract(epoch from (window_start + make_interval(secs => $2) - clock_timestamp()))::float8
            """, r => (Count: (long)r.GetInt32(0), Left: r.GetDouble(1)), ct, key, window.TotalSeconds)).Single();
        return (row.Count, TimeSpan.FromSeconds(Math.Max(0, row.Left)));
    }
}

/// <summary>RATE_LIMIT_STORE=memory: the same windows counted by each instance alone (one instance, or tests).</summary>
public sealed class MemoryRateLimitStore(TimeProvider clock) : IRateLimitStore
{
    private readonly ConcurrentDictionary<string, (long Window, long Count)> _counters = new();

    public Task<(long Count, TimeSpan ResetIn)> HitAsync(string key, TimeSpan window, CancellationToken ct)
    {
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var size = (long)window.TotalMilliseconds;
        var current = now / size;
        var counter = _counters.AddOrUpdate(key, _ => (current, 1), (_, c) => c.Window == current ? (current, c.Count + 1) : (current, 1));
        return Task.FromResult((counter.Count, TimeSpan.FromMilliseconds((current + 1) * size - now)));
    }
}

/// <summary>
/// RATE_LIMIT_REQUESTS per RATE_LIMIT_WINDOW_SECS for each org and route (method and route template): beyond it,
/// 429 with Retry-After. Runs after authentication; open routes are not limited.
/// </summary>
public sealed class RateLimiting(RequestDelegate next, IdentityOptions options, IRateLimitStore store)
{
    public async Task InvokeAsync(HttpContext http)
    {
        var caller = http.Features.Get<Caller>();
        if (options.RateLimitRequests == 0 || caller is null)
        {
            await next(http);
            return;
        }

        var route = (http.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? "(unmatched)";
        var key = $"{caller.OrgId ?? caller.UserId}|{http.Request.Method} {route}";
        var (count, resetIn) = await store.HitAsync(key, options.RateLimitWindow, http.RequestAborted);
        var headers = http.Response.Headers;
        headers["X-RateLimit-Limit"] = options.RateLimitRequests.ToString(CultureInfo.InvariantCulture);
        headers["X-RateLimit-Remaining"] = Math.Max(0, options.RateLimitRequests - count).ToString(CultureInfo.InvariantCulture);
        if (count <= options.RateLimitRequests)
        {
            await next(http);
            return;
        }

        var seconds = Math.Max(1, (int)Math.Ceiling(resetIn.TotalSeconds));
        headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        await Authentication.Problem(http, Problems.Create(StatusCodes.Status429TooManyRequests, "rate_limited",
            $"at most {options.RateLimitRequests} requests per {options.RateLimitWindow.TotalSeconds:0.#} s for this organization and route; retry in {seconds} s"));
    }
}

/// <summary>MAX_REQUEST_BODY_BYTES: a larger declared body is refused with 413 before anything reads it; a chunked one is cut off by Kestrel at the same size.</summary>
public sealed class BodyLimit(RequestDelegate next, IdentityOptions options)
{
    public async Task InvokeAsync(HttpContext http)
    {
        if (http.Request.ContentLength > options.MaxRequestBodyBytes)
        {
            await Authentication.Problem(http, TooLarge(options.MaxRequestBodyBytes));
            return;
        }

        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } feature)
            feature.MaxRequestBodySize = options.MaxRequestBodyBytes;
        await next(http);
    }

    public static Microsoft.AspNetCore.Mvc.ProblemDetails TooLarge(long max) =>
        Problems.Create(StatusCodes.Status413PayloadTooLarge, "payload_too_large", $"request bodies are limited to {max} bytes");
}
