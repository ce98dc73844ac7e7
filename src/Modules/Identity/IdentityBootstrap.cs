using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Everruns.Modules.Identity;

/// <summary>
/// At start (after the schema migration): on an empty database, creates the default org and its admin token once
/// (several instances starting together contend on an advisory lock) and prints the token to the console, once.
/// The token never goes through the logger.
/// </summary>
public sealed class IdentityBootstrap(IdentityStore store, IdentityOptions options, ILogger<IdentityBootstrap> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken ct) => await RunAsync(Console.Out, ct);

    public async Task RunAsync(TextWriter console, CancellationToken ct)
    {
        var token = await store.BootstrapAsync("system:bootstrap", ct);
        if (token is null) return;
        logger.LogWarning("Created the default organization and its admin user (first start on an empty database)");
        if (options.BootstrapToken is not null)
        {
            await console.WriteLineAsync("Everruns: the admin token is the one given in BOOTSTRAP_ADMIN_TOKEN.");
            return;
        }

        await console.WriteLineAsync($"""

            ================================================================================
             Everruns admin token (shown once; store it now):

               {token}

             Use it as 'Authorization: <token>'. Create more with: ops/run tokens create
            ================================================================================

            """);
        await console.FlushAsync(ct);
    }

    public Task StopAsync(CancellationToken ct) => Task.CompletedTask;
}
