using Everruns.Infrastructure;
using Microsoft.Extensions.Configuration;

namespace Everruns.Modules.Execution;

/// <summary>
/// Which model drivers this server offers (see the README's configuration table). The offline driver is
/// always there; the OpenAI-compatible one when <c>OPENAI_BASE_URL</c> is set.
/// </summary>
public sealed record ModelOptions(
    Uri? OpenAiBaseUrl,
    string? OpenAiApiKey,
    IReadOnlyList<string> OpenAiModels,
    string? DefaultModel,
    TimeSpan OfflineChunkDelay)
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

        var delay = 0;
        if (configuration["OFFLINE_MODEL_CHUNK_DELAY_MS"] is { Length: > 0 } rawDelay &&
            (!int.TryParse(rawDelay, out delay) || delay is < 0 or > 60_000))
            throw new SettingException($"OFFLINE_MODEL_CHUNK_DELAY_MS must be a whole number from 0 to 60000, got '{rawDelay}'");

        return new ModelOptions(baseUrl, configuration["OPENAI_API_KEY"], baseUrl is null ? [] : models,
            configuration["DEFAULT_MODEL"] is { Length: > 0 } fallback ? fallback : null, TimeSpan.FromMilliseconds(delay));
    }
}
