using Everruns.Contracts;
using Everruns.Infrastructure;
using Marten;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Wolverine.Http;

namespace Everruns.Modules.Sessions;

/// <summary>The org's live sessions (or one agent's) by status, with their turns' totals as Execution keeps them.</summary>
public sealed class SessionStats(IDocumentStore store, ISessionActivities activities) : ISessionStats
{
    public async Task<long> CountOnHarnessAsync(string orgId, string harnessId, CancellationToken ct = default)
    {
        await using var documents = store.QuerySession(orgId);
        return await documents.Query<Session>().CountAsync(s => s.HarnessId == harnessId && s.DeletedAt == null, ct);
    }

    public async Task<ResourceStats> OfAsync(string orgId, string? agentId, CancellationToken ct = default, string? harnessId = null)
    {
        await using var documents = store.QuerySession(orgId);
        var query = documents.Query<Session>().Where(s => s.DeletedAt == null);
        if (agentId is not null) query = query.Where(s => s.AgentId == agentId);
        if (harnessId is not null) query = query.Where(s => s.HarnessId == harnessId);
        var sessions = await query.Select(s => new SessionRow(s.Id, s.CreatedAt)).ToListAsync(ct);
        var activity = await activities.OfAsync(orgId, sessions.Select(s => s.Id).ToList(), ct);

        var all = activity.Values.ToList();
        var durations = all.Select(a => (long)((a.FinishedAt ?? DateTimeOffset.UtcNow) - a.StartedAt).TotalMilliseconds).ToList();
        var usages = all.Select(a => a.Usage).OfType<TokenUsage>().ToList();
        var cost = Math.Round(usages.Sum(u => u.EstimatedCostUsd ?? 0), 9);
        return new ResourceStats(
            sessions.Count,
            sessions.Count - all.Count,
            all.Count(a => a.Status == SessionStatuses.Active),
            all.Count(a => a.Status == SessionStatuses.Idle),
            all.Count(a => a.Status == SessionStatuses.WaitingForToolResults),
            all.Sum(a => a.Turns),
            usages.Sum(u => u.InputTokens), usages.Sum(u => u.OutputTokens), usages.Sum(u => u.CacheReadTokens ?? 0), 0,
            cost, 0, cost,
            durations.Sum(), durations.Count == 0 ? null : durations.Sum() / durations.Count,
            sessions.Count == 0 ? null : sessions.Min(s => s.CreatedAt), sessions.Count == 0 ? null : sessions.Max(s => s.CreatedAt),
            all.Max(a => a.LastTurnAt));
    }

    private sealed record SessionRow(string Id, DateTimeOffset CreatedAt);
}

/// <summary>GET /v1/sessions/stats: how many of the org's sessions are in each status.</summary>
public static class SessionStatsEndpoint
{
    public sealed record SessionStatsResponse(long Total, long Active, long Idle, long Started, long WaitingForToolResults);

    [WolverineGet("/v1/sessions/stats"), ProducesResponseType<SessionStatsResponse>(StatusCodes.Status200OK)]
    public static async Task<IResult> Get(ISessionStats stats, HttpRequest http)
    {
        var s = await stats.OfAsync(http.Caller().Org, null, http.HttpContext.RequestAborted);
        return Results.Ok(new SessionStatsResponse(s.SessionCount, s.ActiveSessionCount, s.IdleSessionCount, s.StartedSessionCount,
            s.WaitingForToolResultsSessionCount));
    }
}
