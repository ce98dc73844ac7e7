using System.Globalization;
using Everruns.Contracts;
using Everruns.Infrastructure;
using Npgsql;
using JasperFx;
using JasperFx.Events;
using Wolverine;
using Wolverine.ErrorHandling;
using Wolverine.Runtime;
using Wolverine.Util;

namespace Everruns.Host;

/// <summary>
/// What a failed handler run leads to. A failure that passes by itself (a racing writer, or a transient database failure:
/// <see cref="TransientDatabaseErrors"/>) is retried with growing back-off for DB_RETRY_BUDGET_SECS from its first
/// failure: in memory while PostgreSQL cannot be reached (a rescheduling write would only wait for it, in Wolverine's
/// background retries whose pauses reach 30 s, and hold up recovery), as a retry scheduled in Wolverine's inbox once it
/// can. Only then, or at once for any other failure (a bug), the message is dead-lettered, counted, and its turn failed.
/// </summary>
public static class FailurePolicies
{
    /// <summary>Back-off between attempts; the last repeats.</summary>
    public static readonly TimeSpan[] Backoff = [Ms(20), Ms(50), Ms(100), Ms(250), Ms(500), Ms(1000), Ms(2000), Ms(5000)];

    /// <summary>Attempts retried in memory whatever the database's state (a racing writer's five quick ones included).</summary>
    private const int InMemoryAttempts = 7;

    /// <summary>A bound on attempts whatever the clock says (the first failure's time travels in a header).</summary>
    private const int MaxAttempts = 500;

    private const string FirstFailureHeader = "everruns-first-failure";

    public static void ApplyFailurePolicies(this WolverineOptions wolverine, TimeSpan budget)
    {
        Func<IWolverineRuntime, IEnvelopeLifecycle, Exception, ValueTask> retry = (runtime, lifecycle, e) => RetryAsync(runtime, lifecycle, e, budget);
        const string retrying = "retry in memory while the database is down, scheduled once it is up, then dead-letter";
        // A racing writer first retries at once, also when a request runs the message inline (the only retries an inline
        // run gets: a request meeting a database outage answers 503 at once, for its client to retry).
        wolverine.OnException<ConcurrencyException>().Or<EventStreamUnexpectedMaxEventIdException>()
            .RetryWithCooldown(Ms(20), Ms(50), Ms(100), Ms(250), Ms(500))
            .Then.CustomActionIndefinitely(retry, retrying);
        wolverine.OnException(TransientDatabaseErrors.IsTransient, "transient database failure")
            .CustomActionIndefinitely(retry, retrying);
        // The event sequence behind the events (see EventSequence): moved past them, then the message retried.
        wolverine.OnException(EventSequence.IsBehind, "event sequence behind the events")
            .CustomActionIndefinitely(async (runtime, lifecycle, e) =>
            {
                await EventSequence.RepairAsync(runtime.Services.GetRequiredService<NpgsqlDataSource>(), runtime.Cancellation);
                await RetryAsync(runtime, lifecycle, e, budget);
            }, "repair the event sequence, then retry");
        wolverine.OnException(_ => true, "any other failure")
            .CustomActionIndefinitely(DeadLetterAsync, "dead-letter, fail the turn");
    }

    private static async ValueTask RetryAsync(IWolverineRuntime runtime, IEnvelopeLifecycle lifecycle, Exception exception,
        TimeSpan budget)
    {
        var envelope = lifecycle.Envelope!;
        var now = DateTimeOffset.UtcNow;
        var first = envelope.Headers.TryGetValue(FirstFailureHeader, out var raw) &&
                    DateTimeOffset.TryParse(raw, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var at)
            ? at
            : now;
        envelope.Headers[FirstFailureHeader] = first.ToString("O", CultureInfo.InvariantCulture);
        if (now - first > budget || envelope.Attempts >= MaxAttempts)
        {
            await DeadLetterAsync(runtime, lifecycle, exception);
            return;
        }

        var delay = Backoff[Math.Clamp(envelope.Attempts - 1, 0, Backoff.Length - 1)];
        if (envelope.Attempts <= InMemoryAttempts || !await DatabaseReachableAsync(runtime))
        {
            await Task.Delay(delay, runtime.Cancellation);
            await lifecycle.RetryExecutionNowAsync();
        }
        else
        {
            await lifecycle.ReScheduleAsync(now + delay);
        }
    }

    private static async Task<bool> DatabaseReachableAsync(IWolverineRuntime runtime)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(runtime.Cancellation);
            timeout.CancelAfter(TimeSpan.FromSeconds(2));
            await using var connection = await runtime.Services.GetRequiredService<NpgsqlDataSource>().OpenConnectionAsync(timeout.Token);
            await using var ping = new NpgsqlCommand("select 1", connection);
            await ping.ExecuteScalarAsync(timeout.Token);
            return true;
        }
        catch (Exception e) when (TransientDatabaseErrors.IsTransient(e) || e is OperationCanceledException)
        {
            return false;
        }
    }

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
                envelope.Message.GetType().Name), new DeliveryOptions { TenantId = envelope.TenantId }); // the turn's org
    }

    private static TimeSpan Ms(int milliseconds) => TimeSpan.FromMilliseconds(milliseconds);
}
