using Everruns.Host;
using Everruns.Host.Schema;
using Everruns.Infrastructure;
using JasperFx;

// Verbs are JasperFx commands (`help` lists them): `migrate`, `preflight` (Operations/HostCommands.cs); the modules'
// `tokens`, `orgs`, `rehash-api-keys`, `reencrypt-secrets`; JasperFx's own (check-env, resources, describe...). Without a
// verb the server runs. `version` prints the build without building the host; `--no-migrations` skips the migration at
// start and before a verb. A missing or malformed setting stops the process with one line naming it, and exit code 1.
var skipMigrations = args.Contains("--no-migrations");
var hostArgs = args.Where(a => a != "--no-migrations").ToArray();
var verb = hostArgs.FirstOrDefault(a => !a.StartsWith('-'));

if (verb == "version")
{
    Console.WriteLine(BuildInfo.Version);
    return 0;
}

try
{
    var builder = WebApplication.CreateBuilder(hostArgs);
    builder.AddEverruns(new StartupFlags(skipMigrations));
    var app = builder.Build();
    app.MapEverruns();

    // The server itself runs without JasperFx's command line, which lists the assemblies it searched for commands.
    if (verb is null)
    {
        await app.RunAsync();
        return 0;
    }

    return await app.RunJasperFxCommands(hostArgs);
}
catch (Exception e) when (SettingException.In(e) is { } setting)
{
    Console.Error.WriteLine($"everruns: {setting.Message}");
    return 1;
}

/// <summary>Entry point type, visible to the test host.</summary>
public partial class Program;
