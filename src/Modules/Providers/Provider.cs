using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Extensions;

namespace Everruns.Modules.Providers;

/// <summary>An LLM provider connection of an org. Its API key is stored only sealed (<see cref="SecretBox"/>).</summary>
public sealed class Provider
{
    public string Id { get; set; } = "";
    public string OrgId { get; set; } = "";
    public string Name { get; set; } = "";
    public string ProviderType { get; set; } = "";
    public string? BaseUrl { get; set; }
    public string? ApiKeySealed { get; set; }
    public string Status { get; set; } = ProviderStatus.Active;
    public DateTimeOffset? LastSyncedAt { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }

    /// <summary>What a sealed key is bound to: a sealed value copied onto another provider does not open.</summary>
    public string Binding => $"{OrgId}/{Id}/api_key";
}

public static class ProviderStatus
{
    public const string Active = "active";
    public const string Disabled = "disabled";
}

/// <summary>The public shape: whether a key is set, never the key.</summary>
public sealed record ProviderResponse(
    string Id, string Name, string ProviderType, bool ApiKeySet, string? BaseUrl, string Status, DateTimeOffset? LastSyncedAt,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, string SelfUrl)
{
    public static ProviderResponse From(Provider p, HttpRequest request) => new(p.Id, p.Name, p.ProviderType, p.ApiKeySealed is not null,
        p.BaseUrl, p.Status, p.LastSyncedAt, p.CreatedAt, p.UpdatedAt,
        UriHelper.BuildAbsolute(request.Scheme, request.Host, request.PathBase, $"/v1/providers/{p.Id}"));
}
