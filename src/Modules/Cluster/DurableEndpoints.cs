using Microsoft.AspNetCore.Authorization;
using Everruns.Contracts;
using Everruns.Infrastructure;
using Microsoft.AspNetCore.Http;
using Npgsql;
using Wolverine.Http;

namespace Everruns.Modules.Cluster;

/// <summary>
/// GET /v1/durable/workers — the instances sharing this database, from their heartbeats, with Wolverine's view
/// (leader, assigned agents). GET /v1/durable/metrics/timeseries — this instance's ring buffer.
/// Both describe the deployment, not an org: deployment admins only.
/// </summary>
public static class DurableEndpoints
{
    public sealed record WorkerResponse(
        string Id, Guid NodeId, int? NodeNumber, string Status, string Version, DateTimeOffset StartedAt,
        DateTimeOffset LastHeartbeatAt, DateTimeOffset? StoppedAt, bool IsLeader, bool RunsMaintenance, bool IsSelf,
        IReadOnlyList<string> Agents);

    [Authorize(Policy = Policies.DeploymentAdmin)]
    [WolverineGet("/v1/durable/workers")]
    public static async Task<IResult> Workers(NpgsqlDataSource dataSource, ClusterOptions options, InstanceIdentity self,
        HttpContext http, CancellationToken ct)
    {
        var workers = await ReadWorkersAsync(dataSource, options, self, ct);
        return Results.Ok(new
        {
            data = workers,
            total = workers.Count,
            active = workers.Count(w => w.Status == "active"),
            instance_id = self.InstanceId,
        });
    }

    [Authorize(Policy = Policies.DeploymentAdmin)]
    [WolverineGet("/v1/durable/metrics/timeseries")]
    public static async Task<IResult> Timeseries(MetricsTimeline timeline, NpgsqlDataSource dataSource, ClusterOptions options,
        InstanceIdentity self, HttpContext http, CancellationToken ct)
    {
        var active = (await ReadWorkersAsync(dataSource, options, self, ct)).Count(w => w.Status == "active");
        var samples = timeline.Samples;
        var series = samples.SelectMany(s => s.Values.Keys).Distinct().ToDictionary(
            name => name,
            name => samples.Select(s => new { ts = s.Ts, value = s.Values.GetValueOrDefault(name) }).ToList());
        var body = new Dictionary<string, object>
        {
            ["instance_id"] = self.InstanceId,
            ["interval_seconds"] = timeline.Interval.TotalSeconds,
            ["series"] = series,
        };
        // Per the Everruns API: figures are this instance's; with several, say how many to scale by.
        if (active > 1) body["instance_count"] = active;
        return Results.Ok(body);
    }

    public static async Task<List<WorkerResponse>> ReadWorkersAsync(NpgsqlDataSource dataSource, ClusterOptions options,
        InstanceIdentity self, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand("""
            select i.instance_id, i.node_id, n.node_number, i.version, i.started_at, i.heartbeat_at, i.stopped_at,
                   n.id is not null as wolverine_alive,
                   coalesce(array(select a.id from wolverine.wolverine_node_assignments a where a.node_id = i.node_id order by a.id), '{}')
            from everruns_ops.instances i
            left join wolverine.wolverine_nodes n on n.id = i.node_id
            order by i.started_at
            """);
        var workers = new List<WorkerResponse>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            var heartbeat = reader.GetFieldValue<DateTimeOffset>(5);
            var stopped = reader.IsDBNull(6) ? (DateTimeOffset?)null : reader.GetFieldValue<DateTimeOffset>(6);
            var fresh = DateTimeOffset.UtcNow - heartbeat < options.StaleAfter;
            var agents = reader.GetFieldValue<string[]>(8);
            workers.Add(new WorkerResponse(
                reader.GetString(0), reader.GetGuid(1), reader.IsDBNull(2) ? null : reader.GetInt32(2),
                stopped is not null ? "stopped" : fresh && reader.GetBoolean(7) ? "active" : "stale",
                reader.GetString(3), reader.GetFieldValue<DateTimeOffset>(4), heartbeat, stopped,
                agents.Any(a => a.StartsWith("wolverine://leader", StringComparison.Ordinal)),
                agents.Any(a => a.StartsWith(MaintenanceAgent.AgentScheme + ":", StringComparison.Ordinal)),
                reader.GetString(0) == self.InstanceId, agents));
        }

        return workers;
    }
}
