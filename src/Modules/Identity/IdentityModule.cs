using Everruns.Contracts;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Everruns.Modules.Identity;

/// <summary>
/// Who may do what, and how much: orgs, users, personal access tokens (HMAC-hashed, cached per instance, revocations
/// broadcast to every instance), the audit log, and the request limits (rate per org and route, body size).
/// </summary>
public sealed class IdentityModule : IEverrunsModule
{
    public string Name => "identity";

    public void AddServices(IServiceCollection services, IConfiguration configuration)
    {
        var options = IdentityOptions.From(configuration);
        services.AddSingleton(options);
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<TokenCache>();
        services.AddSingleton<IdentityChanges>();
        services.AddHostedService(sp => sp.GetRequiredService<IdentityChanges>());
        services.AddSingleton<IdentityStore>();
        services.AddSingleton<IdentityBootstrap>();
        services.AddHostedService(sp => sp.GetRequiredService<IdentityBootstrap>());
        if (options.RateLimitStore == RateLimitStore.Memory) services.AddSingleton<IRateLimitStore, MemoryRateLimitStore>();
        else services.AddSingleton<IRateLimitStore, PostgresRateLimitStore>();
    }

    public IEnumerable<string> SchemaSql => IdentitySchema.Sql;

    public void UsePipeline(IApplicationBuilder app)
    {
        app.UseMiddleware<BodyLimit>();
        app.UseMiddleware<Authentication>();
        app.UseMiddleware<RateLimiting>();
    }

    public IReadOnlyDictionary<string, Func<IServiceProvider, string[], TextWriter, Task<int>>> Verbs => IdentityVerbs.All;
}
