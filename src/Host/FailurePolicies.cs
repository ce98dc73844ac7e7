using Everruns.Contracts;
using JasperFx;
using JasperFx.Events;
using Wolverine;
using Wolverine.ErrorHandling;
using Wolverine.Runtime;
using Wolverine.Util;

namespace Everruns.Host;

/// <summary>
/// What a failed handler run leads to. Racing writers retry with fresh state; a transient database failure
/// (<see cref="TransientDatabaseErrors"/>) is retried in memory for a few seconds, then as retries scheduled in
/// Wolverine's inbox, for DB_RETRY_BUDGET_SECS in all; only then, or at once for any other failure (a bug), the message
/// is dead-lettered, counted, and its turn failed.
/// </summary>
public static class FailurePolicies
{
    /// <summary>In memory: short enough that a request running a message inline answers 503 within seconds.</summary>
    public static readonly TimeSpan[] InMemory =
        [Ms(20), Ms(50), Ms(100), Ms(250), Ms(500), Ms(1000), Ms(2000)];

    public static void ApplyFailurePolicies(this WolverineOptions wolverine, TimeSpan budget)
    {
        // One rule for every failure that passes by itself: a message's attempts are counted across rules, so a racing
        // write after a few transient failures must find its retry in the same schedule, not past the end of another's.
        wolverine.OnException(PassesByItself, "racing writer or transient database failure")
            .RetryWithCooldown(InMemory)
            .Then.ScheduleRetry(Scheduled(budget))
            .Then.CustomActionIndefinitely(DeadLetterAsync, "dead-letter, fail the turn");
        wolverine.OnException(_ => true, "any other failure")
            .CustomActionIndefinitely(DeadLetterAsync, "dead-letter, fail the turn");
    }

    /// <summary>Optimistic concurrency (turn state), racing stream appends, or a transient database failure.</summary>
    public static bool PassesByItself(Exception e) =>
        e is ConcurrencyException or EventStreamUnexpectedMaxEventIdException || TransientDatabaseErrors.IsTransient(e);

    /// <summary>
    /// Scheduled retries after the in-memory ones, growing from 1 s to 30 s apart, until the whole budget is covered
    /// (Wolverine takes at most 25 attempts of a message: the last delay stretches to what is left). While PostgreSQL is
    /// down, Wolverine keeps the rescheduling write in memory and retries it until the server is back.
    /// </summary>
    public static TimeSpan[] Scheduled(TimeSpan budget)
    {
        int[] growing = [1, 2, 3, 5, 5, 10, 10, 15, 15, 20, 20];
        var slots = MaxAttempts - InMemory.Length - 1; // the last attempt dead-letters
        var delays = new List<TimeSpan>();
        var covered = InMemory.Aggregate(TimeSpan.Zero, (sum, d) => sum + d);
        while (covered < budget && delays.Count < slots)
        {
            var delay = TimeSpan.FromSeconds(delays.Count < growing.Length ? growing[delays.Count] : 30);
            if (delays.Count == slots - 1) delay = budget - covered;
            delays.Add(delay);
            covered += delay;
        }

        return [.. delays];
    }

    private const int MaxAttempts = 25;

    /// <summary>
    /// Moves the message to the dead-letter queue (if that write fails, Wolverine retries the message later and this runs
    /// again), then fails its turn through a durable message of its own.
    /// </summary>
    private static async ValueTask DeadLetterAsync(IWolverineRuntime runtime, IEnvelopeLifecycle lifecycle, Exception exception)
    {
        var envelope = lifecycle.Envelope!;
        if (envelope.Message is not null) envelope.MessageType = envelope.Message.GetType().ToMessageTypeName();
        await lifecycle.MoveToDeadLetterQueueAsync(exception);
        await lifecycle.CompleteAsync();
        EverrunsMetrics.DeadLetters.Add();
        if (envelope.Message is ITurnWork work)
            await new MessageBus(runtime).PublishAsync(new TurnWorkDeadLettered(work.SessionId, work.TurnId, envelope.Id.ToString(),
                envelope.Message.GetType().Name));
    }

    private static TimeSpan Ms(int milliseconds) => TimeSpan.FromMilliseconds(milliseconds);
}
