using System.Collections.Concurrent;
using Everruns.Contracts;
using Everruns.Infrastructure;

namespace Everruns.Modules.Events;

/// <summary>In-process fan-out of "something happened in session X" to every waiter on this instance.</summary>
public sealed class SessionSignals : ISessionSignals
{
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<Listener, byte>> _bySession = new();
    private readonly ConcurrentDictionary<string, long> _generations = new();
    private long _clock;

    /// <summary>
    /// Changes with every signal of a session (and every signal to everyone), never repeating a value: a read begun
    /// at one generation may miss only events whose signal came later, so readers of different generations must
    /// not share one read.
    /// </summary>
    public long Generation(string sessionId) => _generations.GetValueOrDefault(sessionId);

    public SessionSubscription Subscribe(string sessionId, Func<string, bool>? wants = null) =>
        Add(new Subscription(this, sessionId, wants));

    /// <summary>
    /// Calls <paramref name="onSignal"/> on the signalling thread for each signal of the session, with the event's
    /// type and sequence (null when not known, and both null when anything may have been missed). It must be quick: it
    /// holds up the notification listener.
    /// </summary>
    public IDisposable Listen(string sessionId, Action<string?, long?> onSignal) => Add(new Callback(this, sessionId, onSignal));

    /// <summary>
    /// Joining and leaving a session are made one at a time (signalling takes no lock): a listener that joins while its
    /// session's last one leaves would otherwise go into the list being dropped, and never be signalled.
    /// </summary>
    private readonly Lock _membership = new();

    private T Add<T>(T listener) where T : Listener
    {
        lock (_membership)
        {
            _generations.GetOrAdd(listener.SessionId, _ => Interlocked.Increment(ref _clock));
            _bySession.GetOrAdd(listener.SessionId, _ => new()).TryAdd(listener, 0);
        }

        return listener;
    }

    /// <summary>
    /// An event of the session was committed (at <paramref name="sequence"/>, when known): wakes the waiters that want
    /// its type (all when it is not known).
    /// </summary>
    public void Pulse(string sessionId, string? type = null, long? sequence = null)
    {
        if (_bySession.TryGetValue(sessionId, out var listeners))
        {
            _generations[sessionId] = Interlocked.Increment(ref _clock);
            // Enumerating the dictionary itself takes no lock and copies nothing (Keys would do both).
            foreach (var (listener, _) in listeners) listener.Signal(type, sequence);
        }
    }

    /// <summary>After the listener was down, every waiter re-reads: anything may have been missed.</summary>
    public void PulseAll()
    {
        foreach (var sessionId in _generations.Keys) _generations[sessionId] = Interlocked.Increment(ref _clock);
        foreach (var listeners in _bySession.Values)
            foreach (var (listener, _) in listeners) listener.Signal(null, null);
    }

    private void Remove(Listener listener)
    {
        lock (_membership)
        {
            if (!_bySession.TryGetValue(listener.SessionId, out var listeners)) return;
            listeners.TryRemove(listener, out _);
            if (listeners.IsEmpty && _bySession.TryRemove(new(listener.SessionId, listeners)))
                _generations.TryRemove(listener.SessionId, out _);
        }
    }

    private interface Listener
    {
        string SessionId { get; }

        void Signal(string? type, long? sequence);
    }

    private sealed class Subscription(SessionSignals owner, string sessionId, Func<string, bool>? wants) : SessionSubscription, Listener
    {
        // At most one pending signal: many events while the waiter is busy coalesce into one re-read.
        private readonly Wakeup _signal = new();

        public string SessionId { get; } = sessionId;

        public void Signal(string? type, long? sequence)
        {
            if (type is null || wants is null || wants(type)) _signal.Pulse();
        }

        public override Task<bool> WaitAsync(TimeSpan timeout, CancellationToken ct) => _signal.WaitAsync(timeout, ct);

        public override void Dispose()
        {
            owner.Remove(this);
            _signal.Dispose();
        }
    }

    private sealed class Callback(SessionSignals owner, string sessionId, Action<string?, long?> onSignal) : Listener, IDisposable
    {
        public string SessionId { get; } = sessionId;

        public void Signal(string? type, long? sequence) => onSignal(type, sequence);

        public void Dispose() => owner.Remove(this);
    }
}
