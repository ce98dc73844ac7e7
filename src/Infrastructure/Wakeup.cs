namespace Everruns.Infrastructure;

/// <summary>
/// A one-slot wake-up for one waiter at a time: pulses while one is already pending coalesce into it, and the waiter,
/// once woken, re-reads whatever it watches. A pulse with nobody waiting stays pending for the next wait.
/// <para>
/// Neither a timeout nor a cancellation throws: both return false and the caller checks its token. Waits end every step
/// of a turn and every SSE stream, so an exception each time (with its stack trace) would be a steady cost.
/// </para>
/// </summary>
public sealed class Wakeup : IDisposable
{
    private readonly Lock _gate = new();
    private bool _pending;
    private bool _disposed;
    private TaskCompletionSource<bool>? _waiter;

    public void Pulse()
    {
        while (true)
        {
            TaskCompletionSource<bool>? waiter;
            lock (_gate)
            {
                waiter = _waiter;
                _waiter = null;
                if (waiter is null)
                {
                    _pending = true;
                    return;
                }
            }

            if (waiter.TrySetResult(true)) return;
            // That waiter gave up meanwhile (timed out or cancelled) and reports false: the pulse goes to the next wait.
        }
    }

    /// <summary>
    /// True when woken (or a pulse was pending); false on timeout, when <paramref name="ct"/> is cancelled, or once
    /// disposed. The pending pulse is taken before the caller re-reads: a pulse after that wakes the next wait.
    /// </summary>
    public async Task<bool> WaitAsync(TimeSpan timeout, CancellationToken ct)
    {
        TaskCompletionSource<bool> waiter;
        lock (_gate)
        {
            if (_pending)
            {
                _pending = false;
                return true;
            }

            if (_disposed || ct.IsCancellationRequested) return false;
            // A deadline already past (a caller's "what is left", computed late): no wait. A timer would wait for ever
            // at what rounds to -1 ms, and refuse anything lower.
            if (timeout < TimeSpan.Zero && timeout != Timeout.InfiniteTimeSpan) return false;
            // Woken by a pulse on the listener's thread: the waiter continues on the thread pool, not there.
            waiter = _waiter = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        await using var cancelled = ct.CanBeCanceled ? ct.UnsafeRegister(_ => GiveUp(waiter), null) : default;
        await using var timer = timeout == Timeout.InfiniteTimeSpan ? null : new Timer(_ => GiveUp(waiter), null, timeout, Timeout.InfiniteTimeSpan);
        return await waiter.Task;
    }

    private void GiveUp(TaskCompletionSource<bool> waiter)
    {
        lock (_gate)
        {
            if (_waiter == waiter) _waiter = null;
        }

        waiter.TrySetResult(false);
    }

    public void Dispose()
    {
        TaskCompletionSource<bool>? waiter;
        lock (_gate)
        {
            _disposed = true;
            waiter = _waiter;
            _waiter = null;
        }

        waiter?.TrySetResult(false);
    }
}
