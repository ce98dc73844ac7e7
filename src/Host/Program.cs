using Everruns.Host;
using Everruns.Host.Schema;
using JasperFx;

// Verbs are JasperFx commands (`help` lists them): none runs the server; `migrate`, `preflight` (Operations/HostCommands.cs);
// the modules' `tokens`, `orgs`, `rehash-api-keys`, `reencrypt-secrets`; JasperFx's own (check-env, resources, describe...).
// `version` prints the build without building the host; `--no-migrations` skips the migration at start and before a verb.
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

return await app.RunJasperFxCommands(hostArgs);

/// <summary>Entry point type, visible to the test host.</summary>
public partial class Program;
