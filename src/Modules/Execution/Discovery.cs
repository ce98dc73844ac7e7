using Everruns.Contracts;
using Everruns.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Http.Extensions;
using Wolverine.Http;

namespace Everruns.Modules.Execution;

/// <summary>
/// GET /v1/models[/{id}] and GET /v1/capabilities[/{id}]: what a client may put in <c>model_id</c>,
/// <c>default_model_id</c> and <c>capabilities</c>. Models: the deployment's (its settings, <c>predefined</c>) and those of the
/// org's provider connections (stored by the Providers module); capabilities: this server's.
/// </summary>
public static class DiscoveryEndpoints
{
    private static readonly DateTimeOffset Epoch = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public sealed record ModelResponse(
        string Id, string ProviderId, string ModelId, string DisplayName, IReadOnlyList<string> Capabilities,
        bool IsFavorite, bool Enabled, bool Healthy, bool IsDefault, string Source, string ProviderName, string ProviderType,
        DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, string SelfUrl, string ViewUrl, string UiLink);

    public sealed record CapabilityResponse(
        string Id, string Name, string Description, string Status, string Category, string RiskLevel,
        IReadOnlyList<ToolInfo> ToolDefinitions, string SelfUrl, string ViewUrl, string UiLink);

    /// <summary>A tool a capability gives the model: its name, what it does, the JSON Schema of its arguments.</summary>
    public sealed record ToolInfo(string Type, string Name, string Description, System.Text.Json.JsonElement Parameters);

    /// <summary>
    /// Filters: <c>source</c> (predefined, manual, discovered), <c>include_stale</c> (default true: discovered models the
    /// provider no longer lists), <c>favorites_only</c>.
    /// </summary>
    [WolverineGet("/v1/models"), ProducesResponseType<Page<ModelResponse>>(StatusCodes.Status200OK)]
    public static async Task<IResult> ListModels(ModelCatalog catalog, IOrgModels orgModels, HttpRequest http)
    {
        var (paging, problem) = Query.Paging(http);
        if (problem is not null) return Problems.Result(problem);
        var source = http.Query["source"].ToString();
        if (source is not ("" or "predefined" or "manual" or "discovered"))
            return Problems.Result(Problems.BadRequest("invalid_source", "source is one of predefined, manual, discovered"));
        if (Flag(http, "include_stale", true) is not { } includeStale || Flag(http, "favorites_only", false) is not { } favoritesOnly)
            return Problems.Result(Problems.BadRequest("invalid_query", "include_stale and favorites_only are true or false"));

        var org = (await orgModels.ListAsync(http.Caller().Org, http.HttpContext.RequestAborted))
            .Where(m => includeStale || !m.Stale).Select(m => Describe(m, http));
        var all = catalog.All.Select(m => Describe(m, catalog, http)).Concat(org)
            .Where(m => (source.Length == 0 || m.Source == source) && (!favoritesOnly || m.IsFavorite)).ToList();
        return Results.Ok(Page<ModelResponse>.Of(all.Skip(paging.Offset).Take(paging.Limit).ToList(), all.Count, paging, http));
    }

    [WolverineGet("/v1/models/{id}"), ProducesResponseType<ModelResponse>(StatusCodes.Status200OK)]
    public static async Task<IResult> GetModel(string id, ModelCatalog catalog, IOrgModels orgModels, HttpRequest http)
    {
        if (catalog.Find(id) is { } model) return Results.Ok(Describe(model, catalog, http));
        return await orgModels.FindAsync(http.Caller().Org, id, http.HttpContext.RequestAborted) is { } own
            ? Results.Ok(Describe(own, http))
            : Problems.Result(Problems.NotFound("model_not_found", $"model {id} not found"));
    }

    private static bool? Flag(HttpRequest http, string name, bool fallback) =>
        http.Query[name].ToString() switch { "" => fallback, "true" => true, "false" => false, _ => null };

    [WolverineGet("/v1/capabilities"), ProducesResponseType<Page<CapabilityResponse>>(StatusCodes.Status200OK)]
    public static IResult ListCapabilities(Tools tools, HttpRequest http)
    {
        var (paging, problem) = Query.Paging(http);
        if (problem is not null) return Problems.Result(problem);
        var search = http.Query["search"].ToString();
        var all = BuiltInCapabilities.All
            .Where(c => search.Length == 0 || c.Id.Contains(search, StringComparison.OrdinalIgnoreCase)
                                           || c.Name.Contains(search, StringComparison.OrdinalIgnoreCase)
                                           || c.Description.Contains(search, StringComparison.OrdinalIgnoreCase))
            .Select(c => Describe(c, tools, http)).ToList();
        return Results.Ok(Page<CapabilityResponse>.Of(all.Skip(paging.Offset).Take(paging.Limit).ToList(), all.Count, paging, http));
    }

    [WolverineGet("/v1/capabilities/{id}"), ProducesResponseType<CapabilityResponse>(StatusCodes.Status200OK)]
    public static IResult GetCapability(string id, Tools tools, HttpRequest http) =>
        BuiltInCapabilities.All.FirstOrDefault(c => c.Id == id) is { Id: not null } capability
            ? Results.Ok(Describe(capability, tools, http))
            : Problems.Result(Problems.NotFound("capability_not_found", $"capability {id} not found"));

    private static ModelResponse Describe(Model model, ModelCatalog catalog, HttpRequest http)
    {
        var (self, view) = Urls(http, "models", model.Id);
        return new ModelResponse(model.Id, "provider_" + model.Id["model_".Length..], model.ModelId, model.DisplayName,
            ["text", "tools"], false, true, true, model == catalog.Default, "predefined",
            model.Provider == ModelCatalog.OfflineProvider ? "Offline" : "OpenAI-compatible",
            model.Provider == ModelCatalog.OfflineProvider ? "llmsim" : "openai",
            Epoch, Epoch, self, view, view);
    }

    private static ModelResponse Describe(OrgModel model, HttpRequest http)
    {
        var (self, view) = Urls(http, "models", model.Id);
        return new ModelResponse(model.Id, model.ProviderId, model.ModelId, model.DisplayName, model.Capabilities, model.IsFavorite,
            model.Enabled, model.Healthy, false, model.Source, model.ProviderName, model.ProviderType, model.CreatedAt, model.UpdatedAt,
            self, view, view);
    }

    private static CapabilityResponse Describe((string Id, string Name, string Description) capability, Tools tools, HttpRequest http)
    {
        var (self, view) = Urls(http, "capabilities", capability.Id);
        return new CapabilityResponse(capability.Id, capability.Name, capability.Description, "active", "utilities",
            capability.Id == BuiltInCapabilities.WebFetch ? "medium" : "low",
            tools.Of(capability.Id).Select(t => new ToolInfo("builtin", t.Name, t.Description, t.Parameters)).ToList(), self, view, view);
    }

    private static (string Self, string View) Urls(HttpRequest http, string collection, string id) =>
        (UriHelper.BuildAbsolute(http.Scheme, http.Host, http.PathBase, $"/v1/{collection}/{id}"),
            UriHelper.BuildAbsolute(http.Scheme, http.Host, http.PathBase, $"/{collection}/{id}"));
}

/// <summary>For other modules: sessions and agents check model ids when they are set.</summary>
public sealed class ModelDirectory(ModelCatalog catalog, IOrgModels orgModels) : IModelDirectory
{
    public async Task<string?> FindAsync(string orgId, string idOrName, CancellationToken ct = default) =>
        catalog.Find(idOrName)?.Id ?? (await orgModels.FindAsync(orgId, idOrName, ct))?.Id;
}
