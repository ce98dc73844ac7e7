using Everruns.Host.Configuration;

namespace Everruns.Host.Health;

/// <summary>
/// SHUTDOWN_DRAIN_SECS: once shutdown begins (readiness already 503, <see cref="Draining"/> refusing new requests), keep
/// the listeners open this long before anything stops, so a load balancer or orchestrator probing readiness takes the
/// instance out of rotation while it still answers. Runs in the host's stopping phase, before any service stops.
/// </summary>
public sealed class ShutdownDrain(EverrunsOptions options, ILogger<ShutdownDrain> logger) : IHostedLifecycleService
{
    private readonly Lazy<Task> _drain = new(() => Drain(options.ShutdownDrain, logger));

    // The host may be stopped twice (its run loop ending, then its owner disposing it): one drain serves both.
    public Task StoppingAsync(CancellationToken cancellationToken) =>
        options.ShutdownDrain <= TimeSpan.Zero ? Task.CompletedTask : _drain.Value.WaitAsync(cancellationToken);

    private static async Task Drain(TimeSpan drain, ILogger logger)
    {
        logger.LogInformation("Shutting down: draining for {Seconds} s before stopping the listeners", drain.TotalSeconds);
        await Task.Delay(drain);
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
