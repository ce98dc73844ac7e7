using Everruns.Contracts;
using Everruns.Infrastructure;
using Marten;
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
        // Read when first needed (the server's start), so that verbs which never touch tokens (preflight) run without it.
        services.AddSingleton(_ => IdentityOptions.From(configuration));
        services.ConfigureMarten(marten =>
        {
            IdentityStore.Configure(marten);
            marten.Storage.ExtendedSchemaObjects.AddRange(IdentitySchema.Objects());
        });
        services.AddSingleton<TokenCache>();
        services.AddSingleton<IOrgDefaults, OrgDefaultsReader>();
        services.AddSingleton<IdentityChanges>();
        services.AddSingleton<NotificationListener>(sp => sp.GetRequiredService<IdentityChanges>());
        services.AddSingleton<IdentityStore>();
        services.AddSingleton<IdentityBootstrap>();
        services.AddHostedService(sp => sp.GetRequiredService<IdentityBootstrap>());
        services.AddSingleton<IRateLimitStore>(sp => sp.GetRequiredService<IdentityOptions>().RateLimitStore == RateLimitStore.Memory
            ? ActivatorUtilities.CreateInstance<MemoryRateLimitStore>(sp)
            : ActivatorUtilities.CreateInstance<PostgresRateLimitStore>(sp));
        TokenPolicies.Add(services);
        OrgRouteRateLimiter.Add(services);
    }

    public void UsePipeline(IApplicationBuilder app)
    {
        app.UseMiddleware<BodyLimit>();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseRateLimiter(); // per org and route, so once the caller is known
    }
}
