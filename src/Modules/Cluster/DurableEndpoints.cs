using Everruns.Contracts;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Npgsql;
using Wolverine.Http;

namespace Everruns.Modules.Cluster;

/// <summary>
/// GET /v1/durable/workers — the instances sharing this database (Everruns' workers), from their heartbeats, with
/// Wolverine's view (leader, assigned agents). GET /v1/durable/metrics/timeseries — this instance's ring buffer. Both in
/// the Everruns API's shapes; they describe the deployment and hold no org's data, so any member may read them.
/// </summary>
public static class DurableEndpoints
{
    /// <summary>
    /// A worker: an instance. Its <c>status</c> is <c>running</c> (heart-beating, taking steps) or <c>stopped</c> (stopped,
    /// or silent past NODE_STALE_SECS, or dropped by Wolverine: <see cref="Stale"/>); it takes every kind of turn step, up to TURN_CONCURRENCY
    /// model calls at once. Beside the API's fields: its Wolverine node, whether it leads or runs maintenance, whether it
    /// is the instance answering.
    /// </summary>
    public sealed record WorkerResponse(
        string Id, IReadOnlyList<string> ActivityTypes, int MaxConcurrency, int CurrentLoad, string Status, bool AcceptingTasks,
        DateTimeOffset StartedAt, DateTimeOffset LastHeartbeatAt, long TasksCompleted, long TasksFailed, string? Hostname,
        string Version, string? WorkerGroup, bool Stale, DateTimeOffset? StoppedAt, Guid NodeId, int? NodeNumber, bool IsLeader,
        bool RunsMaintenance, bool IsSelf, IReadOnlyList<string> Agents);

    public static readonly IReadOnlyList<string> ActivityTypes = ["run_turn_step", "run_tools"];

    /// <summary>The instances, and what they add up to.</summary>
    public sealed record WorkersResponse(IReadOnlyList<WorkerResponse> Data, int Total, WorkersSummary Summary, string InstanceId);

    /// <summary>Draining is always 0: an instance stopping hands its steps back at once (see docs/cluster.md).</summary>
    public sealed record WorkersSummary(int Active, int Draining, int Stopped, int TotalCapacity, int TotalLoad);

    /// <summary>
    /// One sample of the time series. Turns are the workflows, their steps the tasks. Gauges of this instance: its steps
    /// running (one per turn at a time); of the cluster: steps queued in the inbox, dead letters, live instances.
    /// <c>pending_workflows</c> is always 0: a message queued behind a running turn waits in its session, not in a queue.
    /// Beyond the API's fields: what this instance did in the interval (<c>events_written</c>), cancelled turns, and its
    /// open SSE streams.
    /// </summary>
    public sealed record TimeseriesPoint(
        DateTimeOffset Timestamp, long RunningWorkflows, long PendingWorkflows, long PendingTasks, long ClaimedTasks,
        long ActiveWorkers, double LoadPercentage, long DlqSize, long TasksCompletedTotal, long TasksFailedTotal,
        long TasksStartedTotal, long WorkflowsCompletedTotal, long WorkflowsFailedTotal, long WorkflowsStartedTotal,
        long EventsWritten, long TurnsCancelledTotal, long SseConnections);

    /// <summary>The samples, their interval, and how many instances there are (the figures are this instance's).</summary>
    public sealed record TimeseriesResponse(IReadOnlyList<TimeseriesPoint> Points, long ResolutionSeconds, long InstanceCount);

    [WolverineGet("/v1/durable/workers"), ProducesResponseType<WorkersResponse>(StatusCodes.Status200OK)]
    public static async Task<IResult> Workers(NpgsqlDataSource dataSource, ClusterOptions options, InstanceIdentity self,
        HttpContext http, CancellationToken ct)
    {
        var workers = await ReadWorkersAsync(dataSource, options, self, ct);
        var status = http.Request.Query["status"].ToString();
        var group = http.Request.Query["worker_group"].ToString();
        var listed = workers.Where(w => status.Length == 0 || w.Status == status)
            .Where(w => group.Length == 0 || w.WorkerGroup == group).ToList();
        var running = workers.Where(w => w.Status == "running").ToList();
        return Results.Ok(new WorkersResponse(listed, listed.Count,
            new WorkersSummary(running.Count, 0, workers.Count - running.Count, running.Sum(w => w.MaxConcurrency), running.Sum(w => w.CurrentLoad)),
            self.InstanceId));
    }

    [WolverineGet("/v1/durable/metrics/timeseries"), ProducesResponseType<TimeseriesResponse>(StatusCodes.Status200OK)]
    public static IResult Timeseries(MetricsTimeline timeline, ClusterOptions options)
    {
        var points = timeline.Samples.Select(s =>
        {
            var running = s.Gauges.GetValueOrDefault("steps_running");
            var workers = Math.Max(1, s.Gauges.GetValueOrDefault("active_workers"));
            return new TimeseriesPoint(s.Ts, running, 0, s.Gauges.GetValueOrDefault("pending_tasks"), running, workers,
                Math.Round(100.0 * running / options.TurnConcurrency, 2), s.Gauges.GetValueOrDefault("dlq_size"),
                s.Totals.GetValueOrDefault("task_completed"), s.Totals.GetValueOrDefault("dead_letters"),
                s.Totals.GetValueOrDefault("task_claimed"), s.Totals.GetValueOrDefault("turns_completed"),
                s.Totals.GetValueOrDefault("turns_failed"), s.Totals.GetValueOrDefault("turns_started"),
                s.Deltas.GetValueOrDefault("events_written"), s.Totals.GetValueOrDefault("turns_cancelled"),
                s.Gauges.GetValueOrDefault("sse_connections"));
        }).ToList();
        // Per the Everruns API: figures are this instance's; with several, say how many there are.
        var instances = timeline.Samples.LastOrDefault()?.Gauges.GetValueOrDefault("active_workers") ?? 1;
        return Results.Ok(new TimeseriesResponse(points, (long)timeline.Interval.TotalSeconds, Math.Max(1, instances)));
    }

    public static async Task<List<WorkerResponse>> ReadWorkersAsync(NpgsqlDataSource dataSource, ClusterOptions options,
        InstanceIdentity self, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand("""
            select i.instance_id, i.node_id, n.node_number, i.version, i.started_at, i.heartbeat_at, i.stopped_at,
                   n.id is not null as wolverine_alive,
                   coalesce(array(select a.id from wolverine.wolverine_node_assignments a where a.node_id = i.node_id order by a.id), '{}'),
                   i.hostname, i.current_load, i.tasks_completed, i.tasks_failed
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
            var alive = stopped is null && DateTimeOffset.UtcNow - heartbeat < options.StaleAfter && reader.GetBoolean(7);
            var agents = reader.GetFieldValue<string[]>(8);
            workers.Add(new WorkerResponse(
                reader.GetString(0), ActivityTypes, options.TurnConcurrency, alive ? reader.GetInt32(10) : 0,
                alive ? "running" : "stopped", alive, reader.GetFieldValue<DateTimeOffset>(4), heartbeat, reader.GetInt64(11),
                reader.GetInt64(12), reader.IsDBNull(9) ? null : reader.GetString(9), reader.GetString(3), null,
                Stale: stopped is null && !alive, stopped, reader.GetGuid(1), reader.IsDBNull(2) ? null : reader.GetInt32(2),
                agents.Any(a => a.StartsWith("wolverine://leader", StringComparison.Ordinal)),
                agents.Any(a => a.StartsWith(MaintenanceAgent.AgentScheme + ":", StringComparison.Ordinal)),
                reader.GetString(0) == self.InstanceId, agents));
        }

        return workers;
    }
}
