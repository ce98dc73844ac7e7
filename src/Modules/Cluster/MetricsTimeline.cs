using Everruns.Infrastructure;
using Microsoft.Extensions.Hosting;
using Npgsql;

namespace Everruns.Modules.Cluster;

/// <summary>
/// One sample of this instance's view: its counters' increase since the previous sample (<see cref="Deltas"/>: task_claimed,
/// task_completed, events_written, turns_*), their totals since it started, and gauges at that moment (<see cref="Gauges"/>:
/// its running steps and open SSE streams; the cluster's queued steps, dead letters and live instances, read in one query).
/// </summary>
public sealed record MetricsSample(
    DateTimeOffset Ts, IReadOnlyDictionary<string, long> Deltas, IReadOnlyDictionary<string, long> Totals,
    IReadOnlyDictionary<string, long> Gauges);

/// <summary>This instance's ring buffer: a sample every METRICS_SAMPLE_SECS, METRICS_SAMPLES kept (as the Everruns API has it).</summary>
public sealed class MetricsTimeline(ClusterOptions options, NpgsqlDataSource dataSource) : BackgroundService
{
    private readonly Queue<MetricsSample> _samples = new();
    private readonly Dictionary<string, long> _previous = new();
    private Dictionary<string, long> _cluster = new() { ["pending_tasks"] = 0, ["dlq_size"] = 0, ["active_workers"] = 1 };

    public IReadOnlyList<MetricsSample> Samples
    {
        get
        {
            lock (_samples) return _samples.ToList();
        }
    }

    public TimeSpan Interval => options.MetricsSample;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        foreach (var tally in EverrunsMetrics.Tallies) _previous[tally.Name] = tally.Total;
        using var timer = new PeriodicTimer(options.MetricsSample);
        while (await timer.NextTickAsync(stoppingToken))
        {
            await ReadClusterAsync(stoppingToken);
            Sample();
        }
    }

    /// <summary>The cluster's gauges; kept as last read when the database does not answer (the sample still goes in).</summary>
    private async Task ReadClusterAsync(CancellationToken ct)
    {
        try
        {
            // Live instances as /v1/durable/workers counts them (running: not stopped, beating, and Wolverine's node alive).
            await using var cmd = dataSource.CreateCommand("""
                select (select count(*) from wolverine.wolverine_incoming_envelopes where status = 'Incoming'),
                       (select count(*) from wolverine.wolverine_dead_letters),
                       (select count(*) from everruns_ops.instances i join wolverine.wolverine_nodes n on n.id = i.node_id
                        where i.stopped_at is null and i.heartbeat_at > now() - @stale)
                """);
            cmd.Parameters.AddWithValue("stale", options.StaleAfter);
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            await reader.ReadAsync(ct);
            _cluster = new() { ["pending_tasks"] = reader.GetInt64(0), ["dlq_size"] = reader.GetInt64(1), ["active_workers"] = reader.GetInt64(2) };
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException)
        {
        }
    }

    public void Sample()
    {
        var deltas = new Dictionary<string, long>();
        var totals = new Dictionary<string, long>();
        lock (_samples)
        {
            foreach (var tally in EverrunsMetrics.Tallies)
            {
                var total = tally.Total;
                deltas[tally.Name] = total - _previous.GetValueOrDefault(tally.Name);
                totals[tally.Name] = total;
                _previous[tally.Name] = total;
            }

            var gauges = new Dictionary<string, long>(_cluster)
            {
                ["steps_running"] = EverrunsMetrics.StepsRunning,
                ["sse_connections"] = EverrunsMetrics.SseConnections,
            };
            _samples.Enqueue(new MetricsSample(DateTimeOffset.UtcNow, deltas, totals, gauges));
            while (_samples.Count > options.MetricsSamples) _samples.Dequeue();
        }
    }
}
