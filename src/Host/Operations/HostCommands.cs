using Everruns.Host.Schema;
using Everruns.Infrastructure;
using JasperFx.CommandLine;

namespace Everruns.Host.Operations;

[Description("Apply the schema (under its lock), create the bootstrap admin when API_KEY_SECRET is set, and exit", Name = "migrate")]
public sealed class MigrateCommand : JasperFxAsyncCommand<NetCoreInput>
{
    public override async Task<bool> Execute(NetCoreInput input)
    {
        var services = input.BuildHost().Services;
        var changed = await services.GetRequiredService<SchemaMigrator>().MigrateAsync(CancellationToken.None);
        Console.WriteLine(changed ? "Schema migrated." : "Schema is current.");
        // A deployment that migrates before starting its instances gets its admin token here, once.
        if (string.IsNullOrEmpty(services.GetRequiredService<IConfiguration>()["API_KEY_SECRET"]))
            Console.WriteLine("API_KEY_SECRET is not set: the admin token will be created by the first server start.");
        else
            await services.GetRequiredService<Everruns.Modules.Identity.IdentityBootstrap>().RunAsync(Console.Out, CancellationToken.None);
        return true;
    }
}

[Description("Check the deployment (configuration, database, schema) without changing anything", Name = "preflight")]
public sealed class PreflightCommand : JasperFxAsyncCommand<NetCoreInput>
{
    public override async Task<bool> Execute(NetCoreInput input) =>
        await ActivatorUtilities.CreateInstance<Preflight>(input.BuildHost().Services).RunAsync(Console.Out, CancellationToken.None) == 0;
}

/// <summary>Before a module's command: the schema migration, unless <c>--no-migrations</c>.</summary>
public sealed class CommandPreparation(SchemaMigrator migrator, StartupFlags flags) : ICommandPreparation
{
    public async Task PrepareAsync(CancellationToken ct)
    {
        if (!flags.SkipMigrations) await migrator.MigrateAsync(ct);
    }
}
