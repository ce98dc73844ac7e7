using Everruns.Contracts;
using Everruns.Infrastructure;
using Marten;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Wolverine.Http;

namespace Everruns.Modules.Providers;

public sealed record CreateModelRequest(string? ModelId, string? DisplayName, List<string>? Capabilities, bool? Enabled, bool? IsFavorite);

public sealed record UpdateModelRequest(
    string? ModelId, string? DisplayName, List<string>? Capabilities, bool? Enabled, bool? IsFavorite, string? ProviderId);

/// <summary>Answer of sync-models: how many models were added, changed, and are no longer listed by the provider.</summary>
public sealed record SyncModelsResponse(string Status, int? Created = null, int? Updated = null, int? Stale = null);

/// <summary>
/// The models of an org's provider connections: listed and added by hand under <c>/v1/providers/{id}/models</c>, read from
/// the provider itself by <c>sync-models</c>, changed and removed under <c>/v1/models/{id}</c>. Sessions and agents name them
/// by id or by name; their turns run on the connection's driver with its key.
/// </summary>
public static class ProviderModelEndpoints
{
    private const int MaxCapabilities = 20;

    [WolverineGet("/v1/providers/{providerId}/models"), ProducesResponseType<DataList<ProviderModelResponse>>(StatusCodes.Status200OK)]
    public static async Task<IResult> List(string providerId, IQuerySession documents, HttpRequest http)
    {
        if (await FindProviderAsync(documents, providerId) is null) return Problems.Result(ProviderNotFound(providerId));
        var models = await documents.Query<ProviderModel>().Where(m => m.ProviderId == providerId).OrderBy(m => m.CreatedAt).ToListAsync();
        return Results.Ok(new DataList<ProviderModelResponse>(models.Select(m => ProviderModelResponse.From(m, http)).ToList()));
    }

    [Authorize(Policy = Policies.OrgAdmin)]
    [WolverinePost("/v1/providers/{providerId}/models"), ProducesResponseType<ProviderModelResponse>(StatusCodes.Status201Created)]
    public static async Task<IResult> Create(string providerId, CreateModelRequest? request, IDocumentSession documents, HttpRequest http)
    {
        if (request is null) return Problems.Result(Problems.BadRequest("invalid_body", "the request body must be a JSON object"));
        var provider = await FindProviderAsync(documents, providerId);
        if (provider is null) return Problems.Result(ProviderNotFound(providerId));
        if (Validate(request.ModelId, request.DisplayName, request.Capabilities) is { } invalid) return Problems.Result(invalid);
        var name = request.ModelId!.Trim();
        if (await documents.Query<ProviderModel>().AnyAsync(m => m.ProviderId == providerId && m.ModelId == name))
            return Problems.Result(Problems.Conflict("model_exists", $"provider {providerId} already has a model '{name}'"));

        var now = DateTimeOffset.UtcNow;
        var model = new ProviderModel
        {
            Id = Ids.New(Ids.Model), OrgId = provider.OrgId, ProviderId = providerId, ModelId = name, DisplayName = request.DisplayName!.Trim(),
            Capabilities = request.Capabilities ?? ["text", "tools"], Enabled = request.Enabled ?? true, IsFavorite = request.IsFavorite ?? false,
            Source = ModelSource.Manual, CreatedAt = now, UpdatedAt = now,
        };
        documents.Store(model);
        var response = ProviderModelResponse.From(model, http);
        return Results.Created(response.SelfUrl, response);
    }

    /// <summary>
    /// Reads the provider's own model list: new names become <c>discovered</c> models, ones it lists again lose their stale
    /// mark, discovered ones it no longer lists are marked stale (kept, as sessions may name them). Models added by hand are
    /// left alone.
    /// </summary>
    [Authorize(Policy = Policies.OrgAdmin)]
    [WolverinePost("/v1/providers/{id}/sync-models"), ProducesResponseType<SyncModelsResponse>(StatusCodes.Status200OK)]
    public static async Task<IResult> Sync(string id, IDocumentSession documents, IProviderModelLister lister, IOrgModels orgModels,
        SecretBox box, HttpRequest http)
    {
        var provider = await FindProviderAsync(documents, id);
        if (provider is null) return Problems.Result(ProviderNotFound(id));
        if (!lister.Supports(provider.ProviderType)) return Results.Ok(new SyncModelsResponse("not_supported"));

        IReadOnlyList<string> listed;
        try
        {
            var key = provider.ApiKeySealed is null ? null : box.Open(provider.ApiKeySealed, provider.Binding);
            listed = await lister.ListAsync(provider.ProviderType, provider.BaseUrl, key, http.HttpContext.RequestAborted);
        }
        catch (ProviderCallException e)
        {
            return Problems.Result(Problems.Create(StatusCodes.Status502BadGateway, e.Code, $"the provider's model list could not be read: {e.Message}"));
        }
        catch (System.Security.Cryptography.CryptographicException)
        {
            return Problems.Result(Problems.Create(StatusCodes.Status503ServiceUnavailable, "provider_key_unreadable",
                "this provider's stored key cannot be opened with this server's SECRETS_ENCRYPTION_KEY"));
        }

        var existing = await documents.Query<ProviderModel>().Where(m => m.ProviderId == id).ToListAsync();
        var now = DateTimeOffset.UtcNow;
        int created = 0, updated = 0, stale = 0;
        foreach (var name in listed.Distinct())
        {
            var model = existing.FirstOrDefault(m => m.ModelId == name);
            if (model is null)
            {
                documents.Store(new ProviderModel
                {
                    Id = Ids.New(Ids.Model), OrgId = provider.OrgId, ProviderId = id, ModelId = name, DisplayName = name,
                    Capabilities = ["text", "tools"], Source = ModelSource.Discovered, CreatedAt = now, UpdatedAt = now,
                });
                created++;
            }
            else if (model.Stale)
            {
                model.Stale = false;
                model.UpdatedAt = now;
                documents.Store(model);
                updated++;
            }
        }

        foreach (var gone in existing.Where(m => m.Source == ModelSource.Discovered && !m.Stale && !listed.Contains(m.ModelId)))
        {
            gone.Stale = true;
            gone.UpdatedAt = now;
            documents.Store(gone);
            stale++;
        }

        // The connection's last sync, shown on the provider.
        provider.LastSyncedAt = now;
        documents.Store(provider);
        return Results.Ok(new SyncModelsResponse("success", created, updated, stale));
    }

    [Authorize(Policy = Policies.OrgAdmin)]
    [WolverinePatch("/v1/models/{id}"), ProducesResponseType<ProviderModelResponse>(StatusCodes.Status200OK)]
    public static async Task<IResult> Patch(string id, UpdateModelRequest? request, IDocumentSession documents, IModelDirectory deployment,
        HttpRequest http)
    {
        if (request is null) return Problems.Result(Problems.BadRequest("invalid_body", "the request body must be a JSON object"));
        var model = Ids.IsValid(id, Ids.Model) ? await documents.LoadAsync<ProviderModel>(id) : null;
        if (model is null) return Problems.Result(await ModelNotFoundAsync(deployment, http.Caller().Org, id));
        if (Validate(request.ModelId ?? model.ModelId, request.DisplayName ?? model.DisplayName, request.Capabilities) is { } invalid)
            return Problems.Result(invalid);
        if (request.ProviderId is not null && request.ProviderId != model.ProviderId)
        {
            if (await FindProviderAsync(documents, request.ProviderId) is null)
                return Problems.Result(Problems.BadRequest("provider_not_found", $"provider {request.ProviderId} is not in this organization"));
            model.ProviderId = request.ProviderId;
        }

        var name = request.ModelId?.Trim() ?? model.ModelId;
        if (await documents.Query<ProviderModel>().AnyAsync(m => m.ProviderId == model.ProviderId && m.ModelId == name && m.Id != model.Id))
            return Problems.Result(Problems.Conflict("model_exists", $"provider {model.ProviderId} already has a model '{name}'"));
        model.ModelId = name;
        model.DisplayName = request.DisplayName?.Trim() ?? model.DisplayName;
        model.Capabilities = request.Capabilities ?? model.Capabilities;
        model.Enabled = request.Enabled ?? model.Enabled;
        model.IsFavorite = request.IsFavorite ?? model.IsFavorite;
        model.UpdatedAt = DateTimeOffset.UtcNow;
        documents.Store(model);
        return Results.Ok(ProviderModelResponse.From(model, http));
    }

    [Authorize(Policy = Policies.OrgAdmin)]
    [WolverineDelete("/v1/models/{id}"), ProducesResponseType(StatusCodes.Status204NoContent)]
    public static async Task<IResult> Delete(string id, IDocumentSession documents, IModelDirectory deployment, HttpRequest http)
    {
        var model = Ids.IsValid(id, Ids.Model) ? await documents.LoadAsync<ProviderModel>(id) : null;
        if (model is null) return Problems.Result(await ModelNotFoundAsync(deployment, http.Caller().Org, id));
        documents.Delete(model);
        return Results.NoContent();
    }

    private static ProblemDetails? Validate(string? modelId, string? displayName, List<string>? capabilities)
    {
        if (string.IsNullOrWhiteSpace(modelId) || modelId.Trim().Length > 200 || modelId.Any(char.IsControl))
            return Problems.BadRequest("invalid_model_id", "model_id is required: the provider's name of the model, 1 to 200 characters");
        if (string.IsNullOrWhiteSpace(displayName) || displayName.Trim().Length > 200)
            return Problems.BadRequest("invalid_display_name", "display_name is required (1 to 200 characters)");
        if (capabilities is not null && (capabilities.Count > MaxCapabilities || capabilities.Any(c => string.IsNullOrWhiteSpace(c) || c.Length > 50)))
            return Problems.BadRequest("invalid_capabilities", $"capabilities is a list of at most {MaxCapabilities} names of 1 to 50 characters");
        return null;
    }

    private static async Task<Provider?> FindProviderAsync(IQuerySession documents, string id) =>
        Ids.IsValid(id, Ids.Provider) ? await documents.LoadAsync<Provider>(id) : null;

    /// <summary>A model the deployment configures is found, but not changed here: 409 says so; anything else is 404.</summary>
    private static async Task<ProblemDetails> ModelNotFoundAsync(IModelDirectory deployment, string org, string id) =>
        await deployment.FindAsync(org, id) is not null
            ? Problems.Conflict("model_predefined", $"model {id} is configured by this deployment (its settings), not stored: it cannot be changed or removed through the API")
            : Problems.NotFound("model_not_found", $"model {id} not found");

    private static ProblemDetails ProviderNotFound(string id) => Problems.NotFound("provider_not_found", $"provider {id} not found");
}
