using System.Runtime.CompilerServices;
using Everruns.Contracts;
using Microsoft.Extensions.AI;

namespace Everruns.Modules.Execution;

/// <summary>
/// A model call's stream, tried again after a transient failure (<see cref="ProviderErrors.IsTransient"/>: rate limited,
/// provider unavailable) as long as nothing was streamed yet: up to MODEL_RETRY_ATTEMPTS tries, waiting what the provider's
/// Retry-After says, else MODEL_RETRY_BASE_DELAY_MS doubled each time (with jitter); a wait longer than
/// MODEL_RETRY_MAX_WAIT_SECS is not waited for. Any failure comes out as a <see cref="ProviderCallException"/>.
/// </summary>
public sealed class ModelRetries(ModelOptions options)
{
    /// <summary>What the retries of one call cost, for its <c>llm.generation</c>.</summary>
    public sealed class Tally
    {
        public int Retries { get; set; }
        public long WaitedMs { get; set; }

        public LlmRetry? ToEvent() => Retries == 0 ? null : new LlmRetry(Retries, WaitedMs);
    }

    public async IAsyncEnumerable<ChatResponseUpdate> StreamAsync(Func<IAsyncEnumerable<ChatResponseUpdate>> call, string provider,
        string model, Tally tally, [EnumeratorCancellation] CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            await using var updates = call().WithCancellation(ct).GetAsyncEnumerator();
            var streamed = false;
            while (true)
            {
                ProviderCallException? failure = null;
                bool more;
                try
                {
                    more = await updates.MoveNextAsync();
                }
                catch (Exception e) when (!ct.IsCancellationRequested && e is not OperationCanceledException { CancellationToken.IsCancellationRequested: true })
                {
                    failure = ModelErrors.Classify(e, provider, model);
                    more = false;
                }

                if (failure is null)
                {
                    if (!more) yield break;
                    streamed = true;
                    yield return updates.Current;
                    continue;
                }

                var wait = failure.RetryAfter ?? Backoff(attempt);
                if (streamed || !ProviderErrors.IsTransient(failure.Code) || attempt >= options.RetryAttempts || wait > options.MaxWait)
                    throw failure;
                tally.Retries++;
                tally.WaitedMs += (long)wait.TotalMilliseconds;
                await Task.Delay(wait, ct);
                break;
            }
        }
    }

    private TimeSpan Backoff(int attempt) =>
        options.BaseDelay * Math.Pow(2, attempt - 1) * (0.8 + Random.Shared.NextDouble() * 0.4);
}
