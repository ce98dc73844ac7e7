using Everruns.Host;
using Everruns.Host.Operations;
using Everruns.Host.Schema;
using JasperFx;

// Verbs: (none) runs the server; `migrate` applies the schema and exits; `preflight` checks the deployment;
// `version` prints the build;
// `--no-migrations` skips the start-up migration; any other verb (check-env, resources, codegen, describe...) goes to JasperFx.
var skipMigrations = args.Contains("--no-migrations");
var hostArgs = args.Where(a => a != "--no-migrations").ToArray();
var verb = hostArgs.FirstOrDefault(a => !a.StartsWith('-'));

if (verb == "version")
{
    Console.WriteLine(BuildInfo.Version);
    return 0;
}

var builder = WebApplication.CreateBuilder(hostArgs);
builder.AddEverruns(new StartupFlags(skipMigrations));
var app = builder.Build();
app.MapEverruns();

if (verb == "preflight")
    return await ActivatorUtilities.CreateInstance<Preflight>(app.Services).RunAsync(Console.Out, CancellationToken.None);

if (verb == "migrate")
{
    var changed = await app.Services.GetRequiredService<SchemaMigrator>().MigrateAsync(CancellationToken.None);
    Console.WriteLine(changed ? "Schema migrated." : "Schema is current.");
    return 0;
}

return await app.RunJasperFxCommands(hostArgs);

/// <summary>Entry point type, visible to the test host.</summary>
public partial class Program;
