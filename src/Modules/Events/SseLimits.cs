using System.Collections.Concurrent;
using Everruns.Contracts;
using Everruns.Infrastructure;
using Microsoft.AspNetCore.Mvc;

namespace Everruns.Modules.Events;

/// <summary>
/// Caps on open SSE streams: global and per org (each divided among EXPECTED_INSTANCES, since every instance
/// counts only its own), and per session (not divided: one session's streams may all land on one instance).
/// </summary>
public sealed class SseLimits(SseOptions options, InstanceIdentity identity)
{
    private readonly ConcurrentDictionary<string, int> _byOrg = new();
    private readonly ConcurrentDictionary<string, int> _bySession = new();
    private int _total;

    public int GlobalCap { get; } = PerInstance(options.MaxConnections, identity.ExpectedInstances);
    public int OrgCap { get; } = PerInstance(options.MaxConnectionsPerOrg, identity.ExpectedInstances);
    public int SessionCap => options.MaxConnectionsPerSession;

    private static int PerInstance(int cap, int instances) => Math.Max(1, (cap + instances - 1) / instances);

    /// <summary>A lease on one stream, or the 429 problem when a cap is reached.</summary>
    public (IDisposable? Lease, ProblemDetails? Problem) TryOpen(string orgId, string sessionId)
    {
        if (Interlocked.Increment(ref _total) > GlobalCap)
        {
            Interlocked.Decrement(ref _total);
            return (null, TooMany("sse_limit_global", $"this instance serves at most {GlobalCap} SSE streams"));
        }

        if (_byOrg.AddOrUpdate(orgId, 1, (_, n) => n + 1) > OrgCap)
        {
            Release(orgId, null);
            return (null, TooMany("sse_limit_org", $"at most {OrgCap} SSE streams per organization on this instance"));
        }

        if (_bySession.AddOrUpdate(sessionId, 1, (_, n) => n + 1) > SessionCap)
        {
            Release(orgId, sessionId);
            return (null, TooMany("sse_limit_session", $"at most {SessionCap} SSE streams per session"));
        }

        EverrunsMetrics.SseOpened();
        return (new Lease(this, orgId, sessionId), null);
    }

    private void Release(string orgId, string? sessionId)
    {
        Interlocked.Decrement(ref _total);
        Decrement(_byOrg, orgId);
        if (sessionId is not null) Decrement(_bySession, sessionId);
    }

    private static void Decrement(ConcurrentDictionary<string, int> counts, string key)
    {
        var left = counts.AddOrUpdate(key, 0, (_, n) => n - 1);
        if (left <= 0) counts.TryRemove(new KeyValuePair<string, int>(key, left));
    }

    private static ProblemDetails TooMany(string code, string detail) =>
        Problems.Create(Microsoft.AspNetCore.Http.StatusCodes.Status429TooManyRequests, code, detail);

    private sealed class Lease(SseLimits owner, string orgId, string sessionId) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 1) return;
            owner.Release(orgId, sessionId);
            EverrunsMetrics.SseClosed();
        }
    }
}
