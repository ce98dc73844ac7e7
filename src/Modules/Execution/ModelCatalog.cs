using Everruns.Contracts;
using Everruns.Infrastructure;
using System.ClientModel;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.AI;
using OpenAI;

namespace Everruns.Modules.Execution;

/// <summary>A model this server can call, and the driver that calls it.</summary>
public sealed record Model(string Id, string ModelId, string Provider, string DisplayName, IChatClient Client)
{
    /// <summary>Stable public id derived from provider and model name, so every instance agrees without storage.</summary>
    public static string IdFor(string provider, string modelId) =>
        "model_" + Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes($"{provider}:{modelId}")))[..32].ToLowerInvariant();
}

/// <summary>
/// The models the deployment offers every org: the offline model always, plus the configured OpenAI-compatible models.
/// A session's <c>model_id</c> may name a model by its public id (<c>model_...</c>) or by its name; an org's own provider
/// connections add theirs (<see cref="IOrgModels"/>, resolved by <see cref="ResolveAsync"/>).
/// </summary>
public sealed class ModelCatalog
{
    public const string OfflineProvider = "offline";
    public const string OfflineModelName = "everruns-offline";
    public const string OpenAiProvider = ModelDrivers.OpenAi;

    private readonly ModelOptions _options;
    private readonly ModelDrivers _drivers;

    public ModelCatalog(ModelOptions options, ModelDrivers drivers)
    {
        _options = options;
        _drivers = drivers;
        var models = new List<Model>();
        if (options.OpenAiBaseUrl is { } baseUrl)
            models.AddRange(options.OpenAiModels.Select(name => new Model(Model.IdFor(OpenAiProvider, name), name,
                OpenAiProvider, name, drivers.Client(OpenAiProvider, baseUrl.ToString(), options.OpenAiApiKey, name))));

        models.Add(new Model(Model.IdFor(OfflineProvider, OfflineModelName), OfflineModelName, OfflineProvider,
            "Offline (deterministic echo)", new OfflineChatClient(options.OfflineChunkDelay)));
        All = models;

        Default = options.DefaultModel is null
            ? models[0]
            : Find(options.DefaultModel) ?? throw new SettingException(
                $"DEFAULT_MODEL '{options.DefaultModel}' is not one of the configured models ({string.Join(", ", models.Select(m => m.ModelId))})");
    }

    public IReadOnlyList<Model> All { get; }

    /// <summary>The model sessions without a model_id run on.</summary>
    public Model Default { get; }

    public Model? Find(string idOrName) => All.FirstOrDefault(m => m.Id == idOrName || m.ModelId == idOrName);

    /// <summary>
    /// The model a turn of the org runs on, with the driver that calls it; null when neither the deployment nor the org has
    /// it. No name: the default. A deployment model's public id or the offline model: the deployment's (an OpenAI-compatible
    /// one with the org's own <c>openai</c> connection's key when it has one). Any other name or id: the org's model of that
    /// name first, then the deployment's.
    /// </summary>
    public async Task<Model?> ResolveAsync(string orgId, string? idOrName, IOrgModels orgModels, IProviderCredentials credentials,
        CancellationToken ct)
    {
        var deployed = idOrName is null ? Default : All.FirstOrDefault(m => m.Id == idOrName || (m.Provider == OfflineProvider && m.ModelId == idOrName));
        if (deployed is null && idOrName is not null)
        {
            if (await orgModels.ConnectAsync(orgId, idOrName, ct) is { } connection)
                return new Model(connection.ModelId, connection.ModelName, connection.ProviderType, connection.ModelName,
                    _drivers.Client(connection.ProviderType, connection.BaseUrl, connection.ApiKey, connection.ModelName));
            deployed = Find(idOrName);
        }

        if (deployed is not { Provider: OpenAiProvider }) return deployed;
        // The org's own OpenAI connection, when it has one, pays for its turns.
        var own = await credentials.FindAsync(orgId, OpenAiProvider, ct);
        return own.ApiKey is null
            ? deployed
            : deployed with { Client = _drivers.Client(OpenAiProvider, own.BaseUrl ?? _options.OpenAiBaseUrl?.ToString(), own.ApiKey, deployed.ModelId) };
    }
}
