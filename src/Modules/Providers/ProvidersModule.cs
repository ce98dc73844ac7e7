using Everruns.Contracts;
using Everruns.Infrastructure;
using JasperFx;
using JasperFx.CommandLine;
using Marten;
using Marten.Schema;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

[assembly: JasperFxAssembly]

namespace Everruns.Modules.Providers;

/// <summary>LLM provider connections per org, their keys sealed with SECRETS_ENCRYPTION_KEY; the <c>reencrypt-secrets</c> verb.</summary>
public sealed class ProvidersModule : IEverrunsModule
{
    public string Name => "providers";

    public void AddServices(IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton(new SecretBox(configuration));
        services.AddSingleton<IProviderCredentials, ProviderCredentials>();
        services.AddSingleton<IOrgModels, OrgModels>();
        services.ConfigureMarten(marten =>
        {
            marten.Schema.For<Provider>().UniqueIndex(UniqueIndexType.Computed, "uq_provider_org_name", x => x.OrgId, x => x.Name);
            marten.Schema.For<ProviderModel>()
                .UniqueIndex(UniqueIndexType.Computed, "uq_provider_model_name", x => x.OrgId, x => x.ProviderId, x => x.ModelId);
        });
    }
}

/// <summary>
/// <c>reencrypt-secrets</c>: after SECRETS_ENCRYPTION_KEY changed (the old key in SECRETS_ENCRYPTION_KEY_PREVIOUS),
/// re-seals every stored credential under the current key, in one transaction; then the previous key can go.
/// </summary>
[Description("Re-seal every stored credential under the current SECRETS_ENCRYPTION_KEY", Name = "reencrypt-secrets")]
public sealed class ReencryptSecretsCommand : EverrunsCommand<NetCoreInput>
{
    protected override async Task<bool> RunAsync(NetCoreInput input, IServiceProvider services, TextWriter console)
    {
        var box = services.GetRequiredService<SecretBox>();
        if (!box.Enabled) return Fail(console, "SECRETS_ENCRYPTION_KEY is not set: nothing can be re-encrypted");

        await using var session = services.GetRequiredService<IDocumentStore>().LightweightSession();
        var providers = await session.Query<Provider>().Where(p => p.AnyTenant() && p.ApiKeySealed != null).ToListAsync();
        var changed = 0;
        foreach (var provider in providers.Where(p => SecretBox.KeyIdOf(p.ApiKeySealed!) != box.CurrentKeyId))
        {
            provider.ApiKeySealed = box.Seal(box.Open(provider.ApiKeySealed!, provider.Binding), provider.Binding);
            session.ForTenant(provider.OrgId).Store(provider);
            changed++;
        }

        session.QueueSqlCommand(
            "insert into everruns.audit_log (actor, action, details) values ('cli', 'secrets.reencrypted', ?::jsonb)",
            System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, string>
                { ["reencrypted"] = changed.ToString(), ["key_id"] = box.CurrentKeyId! }));
        await session.SaveChangesAsync();
        await console.WriteLineAsync(
            $"re-encrypted {changed} of {providers.Count} stored credential(s) under key {box.CurrentKeyId}; SECRETS_ENCRYPTION_KEY_PREVIOUS can go");
        return true;
    }
}
