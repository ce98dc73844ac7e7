using Everruns.Contracts;
using Marten;
using Microsoft.Extensions.Logging;

namespace Everruns.Modules.Providers;

/// <summary>For Execution: the models of an org's provider connections, and how to call one (its connection's key opened).</summary>
public sealed class OrgModels(IDocumentStore store, SecretBox box, ILogger<OrgModels> logger) : IOrgModels
{
    public async Task<IReadOnlyList<OrgModel>> ListAsync(string orgId, CancellationToken ct = default)
    {
        await using var documents = store.QuerySession(orgId);
        var providers = (await documents.Query<Provider>().ToListAsync(ct)).ToDictionary(p => p.Id);
        var models = await documents.Query<ProviderModel>().OrderBy(m => m.CreatedAt).ToListAsync(ct);
        return models.Where(m => providers.ContainsKey(m.ProviderId)).Select(m => Describe(m, providers[m.ProviderId])).ToList();
    }

    public async Task<OrgModel?> FindAsync(string orgId, string idOrName, CancellationToken ct = default)
    {
        await using var documents = store.QuerySession(orgId);
        var (model, provider) = await FindAsync(documents, idOrName, ct);
        return model is null ? null : Describe(model, provider!);
    }

    public async Task<ModelConnection?> ConnectAsync(string orgId, string idOrName, CancellationToken ct = default)
    {
        await using var documents = store.QuerySession(orgId);
        var (model, provider) = await FindAsync(documents, idOrName, ct);
        if (model is not { Enabled: true } || provider is not { Status: ProviderStatus.Active }) return null;
        string? key = null;
        if (provider.ApiKeySealed is not null)
        {
            try
            {
                key = box.Open(provider.ApiKeySealed, provider.Binding);
            }
            catch (System.Security.Cryptography.CryptographicException e)
            {
                logger.LogError("Provider {Provider} of {Org}: its stored key cannot be opened ({Reason})", provider.Id, orgId, e.Message);
            }
        }

        return new ModelConnection(model.Id, provider.Id, provider.ProviderType, provider.BaseUrl, key, model.ModelId);
    }

    /// <summary>By public id, else by name: an enabled model on an active connection first, then the oldest.</summary>
    private static async Task<(ProviderModel? Model, Provider? Provider)> FindAsync(IQuerySession documents, string idOrName, CancellationToken ct)
    {
        List<ProviderModel> candidates = Ids.IsValid(idOrName, Ids.Model)
            ? [.. await documents.Query<ProviderModel>().Where(m => m.Id == idOrName).ToListAsync(ct)]
            : [.. await documents.Query<ProviderModel>().Where(m => m.ModelId == idOrName).OrderBy(m => m.CreatedAt).ToListAsync(ct)];
        if (candidates.Count == 0) return (null, null);
        var providerIds = candidates.Select(m => m.ProviderId).Distinct().ToArray();
        var providers = (await documents.LoadManyAsync<Provider>(ct, providerIds)).ToDictionary(p => p.Id);
        var usable = candidates.Where(m => providers.ContainsKey(m.ProviderId))
            .OrderByDescending(m => m.Enabled && providers[m.ProviderId].Status == ProviderStatus.Active).FirstOrDefault();
        return usable is null ? (null, null) : (usable, providers[usable.ProviderId]);
    }

    private static OrgModel Describe(ProviderModel m, Provider p) => new(m.Id, p.Id, p.Name, p.ProviderType, m.ModelId, m.DisplayName,
        m.Capabilities, m.IsFavorite, m.Enabled, m.Source, m.Stale, p.Status == ProviderStatus.Active && (p.ApiKeySealed is not null || p.ProviderType == "ollama"),
        m.CreatedAt, m.UpdatedAt);
}
