using System.Collections.Concurrent;
using Everruns.Contracts;

namespace Everruns.Modules.Events;

/// <summary>In-process fan-out of "something happened in session X" to every waiter on this instance.</summary>
public sealed class SessionSignals : ISessionSignals
{
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<Subscription, byte>> _bySession = new();
    private readonly ConcurrentDictionary<string, long> _generations = new();
    private long _clock;

    /// <summary>
    /// Changes with every signal of a session (and every signal to everyone), never repeating a value: a read begun
    /// at one generation may miss only events whose signal came later, so readers of different generations must
    /// not share one read.
    /// </summary>
    public long Generation(string sessionId) => _generations.GetValueOrDefault(sessionId);

    public SessionSubscription Subscribe(string sessionId, Func<string, bool>? wants = null)
    {
        var subscription = new Subscription(this, sessionId, wants);
        _generations.GetOrAdd(sessionId, _ => Interlocked.Increment(ref _clock));
        _bySession.GetOrAdd(sessionId, _ => new()).TryAdd(subscription, 0);
        return subscription;
    }

    /// <summary>An event of the session was committed: wakes the waiters that want its type (all when it is not known).</summary>
    public void Pulse(string sessionId, string? type = null)
    {
        if (_bySession.TryGetValue(sessionId, out var subscriptions))
        {
            _generations[sessionId] = Interlocked.Increment(ref _clock);
            // Enumerating the dictionary itself takes no lock and copies nothing (Keys would do both).
            foreach (var (subscription, _) in subscriptions)
                if (type is null || subscription.Wants is null || subscription.Wants(type))
                    subscription.Pulse();
        }
    }

    /// <summary>After the listener was down, every waiter re-reads: anything may have been missed.</summary>
    public void PulseAll()
    {
        foreach (var sessionId in _generations.Keys) _generations[sessionId] = Interlocked.Increment(ref _clock);
        foreach (var subscriptions in _bySession.Values)
            foreach (var subscription in subscriptions.Keys) subscription.Pulse();
    }

    private void Remove(Subscription subscription)
    {
        if (_bySession.TryGetValue(subscription.SessionId, out var subscriptions))
        {
            subscriptions.TryRemove(subscription, out _);
            if (subscriptions.IsEmpty && _bySession.TryRemove(new(subscription.SessionId, subscriptions)))
                _generations.TryRemove(subscription.SessionId, out _);
        }
    }

    private sealed class Subscription(SessionSignals owner, string sessionId, Func<string, bool>? wants) : SessionSubscription
    {
        // At most one pending signal: many events while the waiter is busy coalesce into one re-read.
        private readonly Wakeup _signal = new();

        public string SessionId { get; } = sessionId;
        public Func<string, bool>? Wants { get; } = wants;

        public void Pulse() => _signal.Pulse();

        public override Task<bool> WaitAsync(TimeSpan timeout, CancellationToken ct) => _signal.WaitAsync(timeout, ct);

        public override void Dispose()
        {
            owner.Remove(this);
            _signal.Dispose();
        }
    }
}
