using System.Collections.Concurrent;

namespace Everruns.Infrastructure;

/// <summary>
/// Work shared by the callers that ask for it while it runs: the first caller for a key starts it, the others get the
/// same task, and the key is forgotten as soon as the work ends (the next caller starts it again). The work is not the
/// callers': none of them can cancel it for the others.
/// </summary>
public sealed class SingleFlight<T>
{
    private readonly ConcurrentDictionary<string, Lazy<Task<T>>> _inFlight = new();

    public Task<T> RunAsync(string key, Func<Task<T>> work) =>
        // The factory may run twice in a race; only the stored one is ever started (Lazy), so the work runs once.
        _inFlight.GetOrAdd(key, static (k, s) => s.Self.Start(k, s.Work), (Self: this, Work: work)).Value;

    private Lazy<Task<T>> Start(string key, Func<Task<T>> work)
    {
        Lazy<Task<T>>? flight = null;
        flight = new Lazy<Task<T>>(async () =>
        {
            try
            {
                return await work();
            }
            finally
            {
                _inFlight.TryRemove(new KeyValuePair<string, Lazy<Task<T>>>(key, flight!));
            }
        });
        return flight;
    }
}
