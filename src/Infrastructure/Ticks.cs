namespace Everruns.Infrastructure;

public static class Ticks
{
    /// <summary>Waits for the timer's next tick: false once stopping (instead of throwing), so loops simply end.</summary>
    public static async Task<bool> NextTickAsync(this PeriodicTimer timer, CancellationToken ct)
    {
        try
        {
            return await timer.WaitForNextTickAsync(ct);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
