using Everruns.Contracts;
using Marten;
using Microsoft.Extensions.Logging;

namespace Everruns.Modules.Providers;

/// <summary>For Execution: the org's oldest active connection of a provider type, its key opened.</summary>
public sealed class ProviderCredentials(IDocumentStore store, SecretBox box, ILogger<ProviderCredentials> logger) : IProviderCredentials
{
    public async Task<bool> ExistsAsync(string orgId, string providerId, CancellationToken ct = default)
    {
        await using var documents = store.QuerySession(orgId);
        return await documents.LoadAsync<Provider>(providerId, ct) is not null;
    }

    public async Task<ProviderCredentialsFound> FindAsync(string orgId, string providerType, CancellationToken ct = default)
    {
        await using var documents = store.QuerySession(orgId);
        var provider = await documents.Query<Provider>()
            .Where(p => p.ProviderType == providerType && p.Status == ProviderStatus.Active)
            .OrderBy(p => p.CreatedAt)
            .FirstOrDefaultAsync(ct);
        if (provider is null) return new ProviderCredentialsFound(null, null, null);
        if (provider.ApiKeySealed is null) return new ProviderCredentialsFound(provider.Id, null, provider.BaseUrl);
        try
        {
            return new ProviderCredentialsFound(provider.Id, box.Open(provider.ApiKeySealed, provider.Binding), provider.BaseUrl);
        }
        catch (System.Security.Cryptography.CryptographicException e)
        {
            // A key sealed under a key this instance does not have: the server's own credentials are used.
            logger.LogError("Provider {Provider} of {Org}: its stored key cannot be opened ({Reason})", provider.Id, orgId, e.Message);
            return new ProviderCredentialsFound(provider.Id, null, provider.BaseUrl);
        }
    }
}
