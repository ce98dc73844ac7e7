using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Extensions;

namespace Everruns.Modules.Providers;

/// <summary>A model of an org's provider connection: added by hand (<c>manual</c>) or read from the provider (<c>discovered</c>).</summary>
public sealed class ProviderModel
{
    public string Id { get; set; } = "";
    public string OrgId { get; set; } = "";
    public string ProviderId { get; set; } = "";

    /// <summary>The model's name on the provider's wire (<c>gpt-4o-mini</c>, <c>claude-sonnet-4-5</c>, <c>llama3.2</c>).</summary>
    public string ModelId { get; set; } = "";
    public string DisplayName { get; set; } = "";
    public List<string> Capabilities { get; set; } = [];
    public bool Enabled { get; set; } = true;
    public bool IsFavorite { get; set; }
    public string Source { get; set; } = ModelSource.Manual;

    /// <summary>A discovered model the provider no longer listed at the last sync (kept: sessions may still name it).</summary>
    public bool Stale { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
}

public static class ModelSource
{
    public const string Manual = "manual";
    public const string Discovered = "discovered";
}

/// <summary>The public shape of a stored model (the API's <c>Model</c>).</summary>
public sealed record ProviderModelResponse(
    string Id, string ProviderId, string ModelId, string DisplayName, IReadOnlyList<string> Capabilities, bool IsFavorite, bool Enabled,
    string Source, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, string SelfUrl, string ViewUrl, string UiLink)
{
    public static ProviderModelResponse From(ProviderModel m, HttpRequest request)
    {
        var view = UriHelper.BuildAbsolute(request.Scheme, request.Host, request.PathBase, $"/models/{m.Id}");
        return new ProviderModelResponse(m.Id, m.ProviderId, m.ModelId, m.DisplayName, m.Capabilities, m.IsFavorite, m.Enabled, m.Source,
            m.CreatedAt, m.UpdatedAt, UriHelper.BuildAbsolute(request.Scheme, request.Host, request.PathBase, $"/v1/models/{m.Id}"), view, view);
    }
}
