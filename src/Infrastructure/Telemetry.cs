using System.Diagnostics.Metrics;

namespace Everruns.Infrastructure;

/// <summary>
/// Counters every module reports to: a <see cref="Meter"/> (for exporters) and in-process totals that the
/// Cluster module samples into this instance's time series.
/// </summary>
public static class EverrunsMetrics
{
    public const string MeterName = "Everruns";
    private static readonly Meter Meter = new(MeterName);

    public static readonly Tally TaskClaimed = new("task_claimed", "Turn steps this instance started");
    public static readonly Tally TaskCompleted = new("task_completed", "Turn steps this instance finished");
    public static readonly Tally EventsWritten = new("events_written", "Session events this instance appended");
    public static readonly Tally TurnsStarted = new("turns_started", "Turns started");
    public static readonly Tally TurnsCompleted = new("turns_completed", "Turns completed");
    public static readonly Tally TurnsFailed = new("turns_failed", "Turns failed");
    public static readonly Tally TurnsCancelled = new("turns_cancelled", "Turns cancelled");
    public static readonly Tally SseLagging = new("sse_lagging", "Times a write of live events to an SSE stream did not complete at once (a client that does not keep up, or a very large event): the stream then catches up by itself");

    public static readonly Tally SseReads = new("sse_reads", "Reads of the store by the SSE streams' live loops (one per session, filter and position, however many streams share it; none for a signal of an event already read)");

    public static readonly Tally EventNotifications = new("event_notifications", "Notifications this instance sent of the events it committed (one per session, event type and commit; several commits' in one statement)");

    public static readonly Tally StepsHandedOver = new("steps_handed_over", "Model-call steps that committed the turn state their sender handed over in memory, without reading it first (the others, and retries, read it under the session's lock)");

    public static readonly Tally StepsResumed = new("steps_resumed", "Model-call steps that ran without their sender's hand-over in memory: taken over from an instance that stopped or died, claimed after a shutdown hand-off, or released from a stale inbox claim (INBOX_STALE_SECS)");

    public static readonly Tally StepCommitRetries = new("step_commit_retries", "Model-call steps committed again after their commit failed, with the model's answer kept (not asked again)");

    public static readonly Tally TokenLookups = new("token_lookups", "Token lookups that went to the database: a token not in this instance's cache, or its entry expired (requests that miss the same token together share one)");

    public static readonly Tally DeadLetters = new("dead_letters", "Messages this instance moved to the dead-letter queue (a bug, never a transient database failure): each fails its turn at once");

    private static long _sseConnections;

    static EverrunsMetrics() =>
        Meter.CreateObservableGauge("everruns.sse_connections", () => Interlocked.Read(ref _sseConnections), description: "Open SSE streams");

    private static long _stepsRunning;

    /// <summary>Turn steps (model calls, tool runs) running on this instance now: its load, as /v1/durable/workers shows it.</summary>
    public static long StepsRunning => Interlocked.Read(ref _stepsRunning);
    public static void StepStarted() => Interlocked.Increment(ref _stepsRunning);
    public static void StepEnded() => Interlocked.Decrement(ref _stepsRunning);

    public static long SseConnections => Interlocked.Read(ref _sseConnections);
    public static void SseOpened() => Interlocked.Increment(ref _sseConnections);
    public static void SseClosed() => Interlocked.Decrement(ref _sseConnections);

    public static IReadOnlyList<Tally> Tallies { get; } =
        [TaskClaimed, TaskCompleted, EventsWritten, TurnsStarted, TurnsCompleted, TurnsFailed, TurnsCancelled, SseLagging, SseReads, EventNotifications, StepsHandedOver, StepCommitRetries, StepsResumed, TokenLookups, DeadLetters];

    /// <summary>A monotonic counter: exported through the meter, readable in-process.</summary>
    public sealed class Tally
    {
        private readonly Counter<long> _counter;
        private long _total;

        public Tally(string name, string description)
        {
            Name = name;
            _counter = Meter.CreateCounter<long>("everruns." + name, description: description);
        }

        public string Name { get; }
        public long Total => Interlocked.Read(ref _total);

        public void Add(long value = 1, string? reason = null)
        {
            Interlocked.Add(ref _total, value);
            if (reason is null) _counter.Add(value);
            else _counter.Add(value, new KeyValuePair<string, object?>("reason", reason));
        }
    }
}
