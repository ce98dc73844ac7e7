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
/// The models a turn can run on: the offline model always, plus the configured OpenAI-compatible models.
/// A session's <c>model_id</c> may name a model by its public id (<c>model_...</c>) or by its name.
/// </summary>
public sealed class ModelCatalog
{
    public const string OfflineProvider = "offline";
    public const string OfflineModelName = "everruns-offline";
    public const string OpenAiProvider = "openai";

    private readonly ModelOptions _options;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, IChatClient> _orgClients = new();

    public ModelCatalog(ModelOptions options)
    {
        _options = options;
        var models = new List<Model>();
        if (options.OpenAiBaseUrl is { } baseUrl)
        {
            var client = new OpenAIClient(new ApiKeyCredential(options.OpenAiApiKey ?? "unused"),
                new OpenAIClientOptions { Endpoint = baseUrl });
            models.AddRange(options.OpenAiModels.Select(name => new Model(Model.IdFor(OpenAiProvider, name), name,
                OpenAiProvider, name, client.GetChatClient(name).AsIChatClient())));
        }

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

    /// <summary>
    /// The model's driver with an org's own key (and base URL, else the server's): one client per key, URL and model,
    /// kept for reuse, keyed by a hash of the key.
    /// </summary>
    public IChatClient ClientFor(Model model, string apiKey, string? baseUrl)
    {
        var endpoint = baseUrl is not null ? new Uri(baseUrl) : _options.OpenAiBaseUrl;
        var keyHash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(apiKey)));
        if (_orgClients.Count > 1000) _orgClients.Clear();
        return _orgClients.GetOrAdd($"{keyHash}|{endpoint}|{model.ModelId}", _ =>
            new OpenAIClient(new ApiKeyCredential(apiKey), new OpenAIClientOptions { Endpoint = endpoint })
                .GetChatClient(model.ModelId).AsIChatClient());
    }

    public Model? Find(string idOrName) => All.FirstOrDefault(m => m.Id == idOrName || m.ModelId == idOrName);

    /// <summary>The session's model, the default when it names none, or null when it names an unknown one.</summary>
    public Model? Resolve(string? idOrName) => idOrName is null ? Default : Find(idOrName);
}
