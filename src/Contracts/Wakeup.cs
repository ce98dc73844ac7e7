namespace Everruns.Contracts;

/// <summary>
/// A one-slot wake-up: pulses while one is already pending coalesce into it (without the exception a full
/// semaphore would throw), and the waiter, once woken, re-reads whatever it watches.
/// </summary>
public sealed class Wakeup : IDisposable
{
    private readonly SemaphoreSlim _signal = new(0, 1);
    private int _pending;

    public void Pulse()
    {
        if (Interlocked.Exchange(ref _pending, 1) == 1) return; // already pending
        try
        {
            _signal.Release();
        }
        catch (ObjectDisposedException)
        {
            // the waiter left
        }
    }

    /// <summary>
    /// True when woken. The pending flag is cleared on waking, before the caller re-reads: a pulse swallowed in between
    /// is for a change made before it, which that re-read sees.
    /// </summary>
    public async Task<bool> WaitAsync(TimeSpan timeout, CancellationToken ct)
    {
        var woken = await _signal.WaitAsync(timeout, ct);
        if (woken) Interlocked.Exchange(ref _pending, 0);
        return woken;
    }

    public void Dispose() => _signal.Dispose();
}
