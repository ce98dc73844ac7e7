using JasperFx.CommandLine;
using Microsoft.Extensions.DependencyInjection;

namespace Everruns.Infrastructure;

/// <summary>
/// A command-line verb of a module (<c>ops/run &lt;verb&gt; ...</c>), a JasperFx command: JasperFx parses its input
/// (arguments and <c>--flags</c>) and prints its help (<c>ops/run help &lt;verb&gt;</c>). It runs with the host's services
/// on the current schema (the host migrates it first, unless <c>--no-migrations</c>), without starting the server.
/// A module's assembly carries <c>[assembly: JasperFxAssembly]</c> so that its commands are found.
/// </summary>
public abstract class EverrunsCommand<TInput> : JasperFxAsyncCommand<TInput> where TInput : NetCoreInput
{
    public sealed override async Task<bool> Execute(TInput input)
    {
        var host = input.BuildHost(); // the server's own, already built: the host disposes of it
        await host.Services.GetRequiredService<ICommandPreparation>().PrepareAsync(CancellationToken.None);
        return await RunAsync(input, host.Services, Console.Out);
    }

    /// <summary>True on success; false (exit code 1) after writing why to <paramref name="console"/>.</summary>
    protected abstract Task<bool> RunAsync(TInput input, IServiceProvider services, TextWriter console);

    protected static bool Fail(TextWriter console, string message)
    {
        console.WriteLine(message);
        return false;
    }
}

/// <summary>What the host does before a module's command runs (the schema migration).</summary>
public interface ICommandPreparation
{
    Task PrepareAsync(CancellationToken ct);
}
