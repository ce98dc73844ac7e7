using System.Text.Json;
using Everruns.Infrastructure;
using Microsoft.Extensions.Configuration;

namespace Everruns.Modules.Execution;

/// <summary>
/// Which model drivers this server offers and how it calls them (see the README's configuration table). The offline driver
/// is always there; the OpenAI-compatible one when <c>OPENAI_BASE_URL</c> is set; orgs add their own provider connections.
/// </summary>
public sealed record ModelOptions(
    Uri? OpenAiBaseUrl,
    string? OpenAiApiKey,
    IReadOnlyList<string> OpenAiModels,
    string? DefaultModel,
    TimeSpan OfflineChunkDelay,
    int RetryAttempts = 3,
    TimeSpan? RetryBaseDelay = null,
    TimeSpan? RetryMaxWait = null,
    int MaxOutputTokens = 4096,
    IReadOnlyDictionary<string, ModelPrice>? Prices = null)
{
    public static ModelOptions From(IConfiguration configuration)
    {
        Uri? baseUrl = null;
        if (configuration["OPENAI_BASE_URL"] is { Length: > 0 } raw &&
            (!Uri.TryCreate(raw, UriKind.Absolute, out baseUrl) || baseUrl.Scheme is not ("http" or "https")))
            throw new SettingException($"OPENAI_BASE_URL must be an http(s) URL, got '{raw}'");

        var models = (configuration["OPENAI_MODELS"] ?? "gpt-4o-mini")
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (baseUrl is not null && models.Length == 0)
            throw new SettingException("OPENAI_MODELS must name at least one model when OPENAI_BASE_URL is set");

        return new ModelOptions(baseUrl, configuration["OPENAI_API_KEY"], baseUrl is null ? [] : models,
            configuration["DEFAULT_MODEL"] is { Length: > 0 } fallback ? fallback : null,
            TimeSpan.FromMilliseconds(Whole(configuration, "OFFLINE_MODEL_CHUNK_DELAY_MS", 0, 0, 60_000)),
            Whole(configuration, "MODEL_RETRY_ATTEMPTS", 3, 1, 10),
            TimeSpan.FromMilliseconds(Whole(configuration, "MODEL_RETRY_BASE_DELAY_MS", 1000, 0, 60_000)),
            TimeSpan.FromSeconds(Whole(configuration, "MODEL_RETRY_MAX_WAIT_SECS", 30, 0, 600)),
            Whole(configuration, "MODEL_MAX_OUTPUT_TOKENS", 4096, 1, 1_000_000),
            PricesFrom(configuration["MODEL_PRICES"]));
    }

    public TimeSpan BaseDelay => RetryBaseDelay ?? TimeSpan.FromSeconds(1);

    public TimeSpan MaxWait => RetryMaxWait ?? TimeSpan.FromSeconds(30);

    /// <summary>The price of a model by its name on the wire; null when the deployment gave none.</summary>
    public ModelPrice? PriceOf(string model) => Prices?.GetValueOrDefault(model);

    private static int Whole(IConfiguration configuration, string name, int fallback, int min, int max)
    {
        if (configuration[name] is not { Length: > 0 } raw) return fallback;
        if (!int.TryParse(raw, out var value) || value < min || value > max)
            throw new SettingException($"{name} must be a whole number from {min} to {max}, got '{raw}'");
        return value;
    }

    /// <summary>
    /// MODEL_PRICES: a JSON object of model name to its price in US dollars per million tokens,
    /// <c>{"gpt-4o-mini": {"input": 0.15, "output": 0.6, "cache_read": 0.075}}</c>.
    /// </summary>
    private static Dictionary<string, ModelPrice>? PricesFrom(string? raw)
    {
        if (string.IsNullOrWhiteSpace(raw)) return null;
        const string shape = "MODEL_PRICES must be a JSON object of model name to {\"input\": <USD per million tokens>, \"output\": ..., \"cache_read\": ... (optional)}";
        try
        {
            var prices = new Dictionary<string, ModelPrice>();
            using var document = JsonDocument.Parse(raw);
            if (document.RootElement.ValueKind != JsonValueKind.Object) throw new SettingException(shape);
            foreach (var model in document.RootElement.EnumerateObject())
            {
                if (model.Value.ValueKind != JsonValueKind.Object) throw new SettingException($"{shape}; '{model.Name}' is not an object");
                double? Read(string field, bool required)
                {
                    if (!model.Value.TryGetProperty(field, out var value))
                        return required ? throw new SettingException($"{shape}; '{model.Name}' has no '{field}'") : null;
                    return value.ValueKind == JsonValueKind.Number && value.GetDouble() >= 0
                        ? value.GetDouble()
                        : throw new SettingException($"{shape}; '{model.Name}'.{field} must be a number of at least 0");
                }

                foreach (var field in model.Value.EnumerateObject().Select(p => p.Name).Except(["input", "output", "cache_read"]))
                    throw new SettingException($"{shape}; '{model.Name}' has an unknown field '{field}'");
                prices[model.Name] = new ModelPrice(Read("input", true)!.Value, Read("output", true)!.Value, Read("cache_read", false));
            }

            return prices;
        }
        catch (JsonException e)
        {
            throw new SettingException($"{shape} ({e.Message})");
        }
    }
}

/// <summary>A model's price in US dollars per million tokens: prompt tokens, answer tokens, prompt tokens read from the cache (else at <see cref="Input"/>).</summary>
public sealed record ModelPrice(double Input, double Output, double? CacheRead);
