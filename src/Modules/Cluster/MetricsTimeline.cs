using Everruns.Infrastructure;
using Microsoft.Extensions.Hosting;

namespace Everruns.Modules.Cluster;

/// <summary>One sample of this instance's counters: per-interval deltas, and the open SSE streams at that moment.</summary>
public sealed record MetricsSample(DateTimeOffset Ts, IReadOnlyDictionary<string, long> Values);

/// <summary>
/// This instance's ring buffer: every METRICS_SAMPLE_SECS the counters' increase since the previous sample
/// (task_claimed, task_completed, events_written, turns_*) and the sse_connections gauge; METRICS_SAMPLES kept.
/// </summary>
public sealed class MetricsTimeline(ClusterOptions options) : BackgroundService
{
    private readonly Queue<MetricsSample> _samples = new();
    private readonly Dictionary<string, long> _previous = new();

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
        while (await timer.NextTickAsync(stoppingToken)) Sample();
    }

    public void Sample()
    {
        var values = new Dictionary<string, long>();
        lock (_samples)
        {
            foreach (var tally in EverrunsMetrics.Tallies)
            {
                var total = tally.Total;
                values[tally.Name] = total - _previous.GetValueOrDefault(tally.Name);
                _previous[tally.Name] = total;
            }

            values["sse_connections"] = EverrunsMetrics.SseConnections;
            _samples.Enqueue(new MetricsSample(DateTimeOffset.UtcNow, values));
            while (_samples.Count > options.MetricsSamples) _samples.Dequeue();
        }
    }
}
