namespace Everruns.Contracts;

/// <summary>
/// Wakes in-process waiters when something may have happened in a session on any instance (an event
/// was appended, or the cluster-wide listener reconnected and everything must be re-read). A signal
/// carries no data: the waiter re-reads the store from where it left off, so nothing is missed or doubled.
/// </summary>
public interface ISessionSignals
{
    /// <summary>
    /// Wakes on the session's events of the types <paramref name="wants"/> accepts (all when null), and whenever
    /// anything may have been missed.
    /// </summary>
    SessionSubscription Subscribe(string sessionId, Func<string, bool>? wants = null);
}

public abstract class SessionSubscription : IDisposable
{
    /// <summary>
    /// True when signalled within <paramref name="timeout"/>; false on timeout or when <paramref name="ct"/> is cancelled
    /// (without throwing: the caller checks its token).
    /// </summary>
    public abstract Task<bool> WaitAsync(TimeSpan timeout, CancellationToken ct);

    public abstract void Dispose();
}
