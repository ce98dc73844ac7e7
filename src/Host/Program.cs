using Everruns.Host;
using Everruns.Host.Operations;
using Everruns.Host.Schema;
using JasperFx;

// Verbs: (none) runs the server; `migrate` applies the schema and exits; `preflight` checks the deployment;
// `version` prints the build; module verbs: `tokens`, `orgs`, `rehash-api-keys`, `reencrypt-secrets`;
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
    // A deployment that migrates before starting its instances gets its admin token here, once.
    if (string.IsNullOrEmpty(app.Configuration["API_KEY_SECRET"]))
        Console.WriteLine("API_KEY_SECRET is not set: the admin token will be created by the first server start.");
    else
        await app.Services.GetRequiredService<Everruns.Modules.Identity.IdentityBootstrap>().RunAsync(Console.Out, CancellationToken.None);
    return 0;
}

// Module verbs (tokens, orgs, rehash-api-keys, reencrypt-secrets): on the current schema.
if (verb is not null && Modules.All.SelectMany(m => m.Verbs).FirstOrDefault(v => v.Key == verb).Value is { } moduleVerb)
{
    if (!skipMigrations) await app.Services.GetRequiredService<SchemaMigrator>().MigrateAsync(CancellationToken.None);
    var rest = hostArgs.SkipWhile(a => a != verb).Skip(1).ToArray();
    return await moduleVerb(app.Services, rest, Console.Out);
}

return await app.RunJasperFxCommands(hostArgs);

/// <summary>Entry point type, visible to the test host.</summary>
public partial class Program;
