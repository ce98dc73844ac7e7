using System.Collections.Concurrent;
using System.Globalization;
using System.Threading.RateLimiting;
using Everruns.Contracts;
using Everruns.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Everruns.Modules.Identity;

/// <summary>One hit on a fixed-window counter: whether it is allowed, about how many remain, and the time left in the window.</summary>
public interface IRateLimitStore
{
    Task<(bool Allowed, long Remaining, TimeSpan ResetIn)> HitAsync(string key, int limit, TimeSpan window, CancellationToken ct);

    /// <summary>The same hit when it can be counted without waiting (null when it needs the database).</summary>
    (bool Allowed, long Remaining, TimeSpan ResetIn)? TryHitNow(string key, int limit, TimeSpan window);
}

/// <summary>
/// Cluster-wide counters in the UNLOGGED table <c>everruns.rate_limits</c>: one row per org and route, overwritten
/// as windows roll (so the table never grows), windows aligned on the database clock that every instance shares.
/// An instance claims a lease of several requests at a time (a tenth of the limit per expected instance, at least
/// one), so that a busy org does not take a row lock on every request; small limits are counted exactly, and a
/// lease left unused when the window ends only ever makes the cluster stricter, never looser.
/// </summary>
public sealed class PostgresRateLimitStore(NpgsqlDataSource dataSource, InstanceIdentity self, TimeProvider clock) : IRateLimitStore
{
    private readonly ConcurrentDictionary<string, Lease> _leases = new();

    /// <summary>This instance's share of one key's current window.</summary>
    private sealed class Lease
    {
        public readonly SemaphoreSlim Claiming = new(1, 1);
        public long Left;
        public long Remaining;
        public bool Exhausted;
        public DateTimeOffset Until;
    }

    public async Task<(bool Allowed, long Remaining, TimeSpan ResetIn)> HitAsync(string key, int limit, TimeSpan window, CancellationToken ct)
    {
        var lease = _leases.GetOrAdd(key, _ => new Lease());
        if (TryLocal(lease) is { } local) return local;

        // One claim in flight per key on this instance: requests arriving meanwhile use what it brings.
        await lease.Claiming.WaitAsync(ct);
        try
        {
            if (TryLocal(lease) is { } claimedMeanwhile) return claimedMeanwhile;
            var size = Math.Max(1, limit / (10 * self.ExpectedInstances));
            await using var connection = await dataSource.OpenConnectionAsync(ct);
            var row = (await connection.ListAsync("""
                insert into everruns.rate_limits as r (key, window_start, count)
                values ($1, to_timestamp(floor(extract(epoch from clock_timestamp())::float8 / $2) * $2), $3)
                on conflict (key) do update set
                    count = case when r.window_start = excluded.window_start then r.count + $3 else $3 end,
                    window_start = excluded.window_start
                returning count, extract(epoch from (window_start + make_interval(secs => $2) - clock_timestamp()))::float8
                """, r => (Count: r.GetInt64(0), Left: r.GetDouble(1)), ct, key, window.TotalSeconds, (long)size)).Single();
            var resetIn = TimeSpan.FromSeconds(Math.Max(0, row.Left));
            // This claim covers counts (count - size, count]: the part within the limit is ours.
            var granted = Math.Clamp(limit - (row.Count - size), 0, size);
            var remaining = Math.Max(0, limit - row.Count);
            lock (lease)
            {
                lease.Left = Math.Max(0, granted - 1);
                lease.Remaining = remaining;
                // Nothing frees capacity before the window ends: refuse locally until then.
                lease.Exhausted = granted == 0;
                lease.Until = clock.GetUtcNow() + resetIn;
            }

            return (granted > 0, remaining + Math.Max(0, granted - 1), resetIn);
        }
        finally
        {
            lease.Claiming.Release();
        }
    }

    public (bool Allowed, long Remaining, TimeSpan ResetIn)? TryHitNow(string key, int limit, TimeSpan window) =>
        _leases.TryGetValue(key, out var lease) ? TryLocal(lease) : null;

    private (bool, long, TimeSpan)? TryLocal(Lease lease)
    {
        var now = clock.GetUtcNow();
        lock (lease)
        {
            if (lease.Until <= now) return null;
            if (lease.Exhausted) return (false, 0, lease.Until - now);
            if (lease.Left <= 0) return null;
            lease.Left--;
            return (true, lease.Remaining + lease.Left, lease.Until - now);
        }
    }
}

/// <summary>
/// RATE_LIMIT_STORE=memory: each instance counts alone, with ASP.NET Core's fixed-window limiter per key (one instance,
/// or tests).
/// </summary>
public sealed class MemoryRateLimitStore : IRateLimitStore, IDisposable
{
    private readonly ConcurrentDictionary<(int, TimeSpan), PartitionedRateLimiter<string>> _limiters = new();

    public Task<(bool Allowed, long Remaining, TimeSpan ResetIn)> HitAsync(string key, int limit, TimeSpan window, CancellationToken ct) =>
        Task.FromResult(TryHitNow(key, limit, window)!.Value);

    public (bool Allowed, long Remaining, TimeSpan ResetIn)? TryHitNow(string key, int limit, TimeSpan window)
    {
        var limiter = _limiters.GetOrAdd((limit, window), _ => PartitionedRateLimiter.Create<string, string>(k =>
            RateLimitPartition.GetFixedWindowLimiter(k, _ => new FixedWindowRateLimiterOptions { PermitLimit = limit, Window = window, QueueLimit = 0 })));
        using var lease = limiter.AttemptAcquire(key);
        var remaining = limiter.GetStatistics(key)?.CurrentAvailablePermits ?? 0;
        var resetIn = lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) ? retryAfter : window;
        return (lease.IsAcquired, remaining, resetIn);
    }

    public void Dispose()
    {
        foreach (var limiter in _limiters.Values) limiter.Dispose();
    }
}

/// <summary>
/// RATE_LIMIT_REQUESTS per RATE_LIMIT_WINDOW_SECS for each org and route (method and route template), as the global
/// limiter of ASP.NET Core's rate-limiting middleware; the counting is the <see cref="IRateLimitStore"/>'s (cluster-wide
/// by default). Beyond it, 429 with Retry-After. Runs after authentication; requests without a caller are not limited.
/// </summary>
public sealed class OrgRouteRateLimiter(IdentityOptions options, IRateLimitStore store) : PartitionedRateLimiter<HttpContext>
{
    public static void Add(IServiceCollection services)
    {
        services.AddRateLimiter(_ => { });
        services.AddOptions<RateLimiterOptions>().Configure<IdentityOptions, IRateLimitStore>((limiter, options, store) =>
        {
            limiter.GlobalLimiter = new OrgRouteRateLimiter(options, store);
            limiter.OnRejected = (context, _) =>
            {
                var seconds = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter)
                    ? Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds))
                    : 1;
                context.HttpContext.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
                var problem = Problems.Create(StatusCodes.Status429TooManyRequests, "rate_limited",
                    $"at most {options.RateLimitRequests} requests per {options.RateLimitWindow.TotalSeconds:0.#} s for this organization and route; retry in {seconds} s");
                problem.Extensions["retry_after_seconds"] = seconds;
                return new ValueTask(Problems.Result(problem).ExecuteAsync(context.HttpContext));
            };
        });
    }

    private static readonly RateLimitLease Unlimited = new Outcome(true, null);

    public override RateLimiterStatistics? GetStatistics(HttpContext resource) => null;

    /// <summary>
    /// Decides at once when the store can (this instance's lease of the window); otherwise refuses here, and the
    /// middleware then asks <see cref="AcquireAsyncCore"/>, which may go to the database.
    /// </summary>
    protected override RateLimitLease AttemptAcquireCore(HttpContext resource, int permitCount)
    {
        if (Key(resource) is not { } key) return Unlimited;
        return store.TryHitNow(key, options.RateLimitRequests, options.RateLimitWindow) is { } hit ? Lease(resource, hit) : new Outcome(false, null);
    }

    protected override async ValueTask<RateLimitLease> AcquireAsyncCore(HttpContext resource, int permitCount, CancellationToken ct) =>
        Key(resource) is { } key
            ? Lease(resource, await store.HitAsync(key, options.RateLimitRequests, options.RateLimitWindow, ct))
            : Unlimited;

    private RateLimitLease Lease(HttpContext resource, (bool Allowed, long Remaining, TimeSpan ResetIn) hit)
    {
        var (allowed, remaining, resetIn) = hit;
        var headers = resource.Response.Headers;
        headers["X-RateLimit-Limit"] = options.RateLimitRequests.ToString(CultureInfo.InvariantCulture);
        headers["X-RateLimit-Remaining"] = remaining.ToString(CultureInfo.InvariantCulture);
        return new Outcome(allowed, allowed ? null : resetIn);
    }

    private string? Key(HttpContext http)
    {
        if (options.RateLimitRequests == 0 || http.Features.Get<Caller>() is not { } caller) return null;
        var route = (http.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? "(unmatched)";
        return $"{caller.OrgId ?? caller.UserId}|{http.Request.Method} {route}";
    }

    private sealed class Outcome(bool acquired, TimeSpan? retryAfter) : RateLimitLease
    {
        public override bool IsAcquired => acquired;

        public override IEnumerable<string> MetadataNames => retryAfter is null ? [] : [MetadataName.RetryAfter.Name];

        public override bool TryGetMetadata(string metadataName, out object? metadata)
        {
            metadata = metadataName == MetadataName.RetryAfter.Name ? retryAfter : null;
            return metadata is not null;
        }
    }
}

/// <summary>MAX_REQUEST_BODY_BYTES: a larger declared body is refused with 413 before anything reads it; a chunked one is cut off by Kestrel at the same size.</summary>
public sealed class BodyLimit(RequestDelegate next, IdentityOptions options)
{
    public async Task InvokeAsync(HttpContext http)
    {
        if (http.Request.ContentLength > options.MaxRequestBodyBytes)
        {
            await Problems.Result(TooLarge(options.MaxRequestBodyBytes)).ExecuteAsync(http);
            return;
        }

        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } feature)
            feature.MaxRequestBodySize = options.MaxRequestBodyBytes;
        await next(http);
    }

    public static Microsoft.AspNetCore.Mvc.ProblemDetails TooLarge(long max) =>
        Problems.Create(StatusCodes.Status413PayloadTooLarge, "payload_too_large", $"request bodies are limited to {max} bytes");
}
