namespace Everruns.Contracts;

/// <summary>A model an org added to one of its provider connections (by hand, or read from the provider by sync-models).</summary>
public sealed record OrgModel(
    string Id, string ProviderId, string ProviderName, string ProviderType, string ModelId, string DisplayName,
    IReadOnlyList<string> Capabilities, bool IsFavorite, bool Enabled, string Source, bool Stale, bool Healthy,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

/// <summary>
/// What a turn needs to call a model of an org's provider connection: the driver (provider type), where it listens, its
/// key (opened, in memory only) and the model's name on the wire.
/// </summary>
public sealed record ModelConnection(string ModelId, string ProviderId, string ProviderType, string? BaseUrl, string? ApiKey, string ModelName);

/// <summary>Providers: the models of an org's provider connections.</summary>
public interface IOrgModels
{
    Task<IReadOnlyList<OrgModel>> ListAsync(string orgId, CancellationToken ct = default);

    /// <summary>The org's model by public id, else by name (enabled ones first); null when the org has none such.</summary>
    Task<OrgModel?> FindAsync(string orgId, string idOrName, CancellationToken ct = default);

    /// <summary>How to call the org's enabled model on an active connection; null when there is none such.</summary>
    Task<ModelConnection?> ConnectAsync(string orgId, string idOrName, CancellationToken ct = default);
}

/// <summary>Execution (which holds the drivers): the models a provider itself lists, for sync-models.</summary>
public interface IProviderModelLister
{
    /// <summary>Whether this server has a driver for the provider type.</summary>
    bool Supports(string providerType);

    /// <summary>The model names the provider lists; throws <see cref="ProviderCallException"/> with a readable reason when it cannot be read.</summary>
    Task<IReadOnlyList<string>> ListAsync(string providerType, string? baseUrl, string? apiKey, CancellationToken ct = default);
}

/// <summary>A call to a provider failed: <see cref="Code"/> is one of <see cref="ProviderErrors"/>' codes.</summary>
public sealed class ProviderCallException(string code, string message, TimeSpan? retryAfter = null, Exception? inner = null)
    : Exception(message, inner)
{
    public string Code { get; } = code;
    public TimeSpan? RetryAfter { get; } = retryAfter;
}

/// <summary>The codes a failed model call ends a turn with (<c>turn.failed</c>'s <c>error_code</c>), as the Everruns API names them.</summary>
public static class ProviderErrors
{
    public const string RateLimited = "provider_rate_limited";
    public const string Misconfigured = "provider_misconfigured";
    public const string RequestTooLarge = "request_too_large";
    public const string Unavailable = "provider_unavailable";
    public const string ModelUnavailable = "model_unavailable";
    public const string ProcessingError = "processing_error";

    /// <summary>Worth another try after a pause: the provider may answer next time.</summary>
    public static bool IsTransient(string code) => code is RateLimited or Unavailable;
}
