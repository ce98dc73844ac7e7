namespace Everruns.Tests.Infrastructure;

/// <summary>Polls a condition the system reaches asynchronously (outbox handlers, other processes), with a deadline.</summary>
public static class Eventually
{
    public static async Task Until(Func<Task<bool>> condition, TimeSpan? within = null) =>
        await Value(async () => await condition() ? "met" : null, within ?? TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(100));

    /// <summary>The first non-null value <paramref name="probe"/> returns within the deadline.</summary>
    public static async Task<T> Value<T>(Func<Task<T?>> probe, TimeSpan within, TimeSpan? every = null)
    {
        var deadline = DateTime.UtcNow + within;
        while (true)
        {
            if (await probe() is { } value) return value;
            if (DateTime.UtcNow > deadline) throw new TimeoutException("condition not met in time");
            await Task.Delay(every ?? TimeSpan.FromMilliseconds(250));
        }
    }
}
