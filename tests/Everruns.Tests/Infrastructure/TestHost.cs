using Alba;
using JasperFx.CommandLine;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Everruns.Tests.Infrastructure;

/// <summary>Starts the real Everruns host in-process (Alba) with the given environment settings.</summary>
public static class TestHost
{
    /// <param name="services">Extra service registrations (a fault to inject, for one).</param>
    public static Task<IAlbaHost> StartAsync(string databaseUrl, LogCapture? logs = null,
        IDictionary<string, string>? settings = null, Action<IServiceCollection>? services = null)
    {
        // Program hands the command line to JasperFx; under test the host must still start.
        JasperFxEnvironment.AutoStartHost = true;
        return AlbaHost.For<Program>(builder =>
        {
            builder.UseSetting("DATABASE_URL", databaseUrl);
            builder.UseSetting("INSTANCE_ID", "test-" + Guid.NewGuid().ToString("N")[..6]);
            foreach (var (key, value) in TestAuth.Settings(settings))
                builder.UseSetting(key, value);
            if (logs is not null)
                builder.ConfigureServices(s => s.AddSingleton<ILoggerProvider>(logs));
            if (services is not null) builder.ConfigureServices(services);
        });
    }
}
