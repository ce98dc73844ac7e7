using Microsoft.AspNetCore.Authorization;
using System.Text.RegularExpressions;
using Everruns.Contracts;
using Everruns.Infrastructure;
using Marten;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Wolverine;
using Wolverine.Http;

namespace Everruns.Modules.Providers;

public sealed record ProviderRequest(
    string? Name, string? ProviderType, string? ApiKey, string? BaseUrl, Dictionary<string, string>? Credentials, string? Status);

/// <summary>
/// <c>/v1/providers</c>: an org's LLM provider connections. Members read them (never the key: <c>api_key_set</c> says
/// whether one is stored); org admins create, replace (PUT), change (PATCH) and delete them. Keys are sealed with
/// SECRETS_ENCRYPTION_KEY before they are stored; without it, storing a key answers 503.
/// </summary>
public static partial class ProviderEndpoints
{
    [GeneratedRegex("^[a-z][a-z0-9_]{0,49}$")]
    private static partial Regex ProviderType();

    [WolverineGet("/v1/providers"), ProducesResponseType<DataList<ProviderResponse>>(StatusCodes.Status200OK)]
    public static async Task<IResult> List(IQuerySession documents, HttpRequest http)
    {
        var org = http.Caller().Org;
        var providers = await documents.Query<Provider>().OrderBy(p => p.CreatedAt).ToListAsync();
        return Results.Ok(new DataList<ProviderResponse>(providers.Select(p => ProviderResponse.From(p, http)).ToList()));
    }

    [WolverineGet("/v1/providers/{id}"), ProducesResponseType<ProviderResponse>(StatusCodes.Status200OK)]
    public static async Task<IResult> Get(string id, IQuerySession documents, HttpRequest http)
    {
        var provider = await FindAsync(documents, id);
        return provider is null ? Problems.Result(NotFound(id)) : Results.Ok(ProviderResponse.From(provider, http));
    }

    [Authorize(Policy = Policies.OrgAdmin)]
    [WolverinePost("/v1/providers"), ProducesResponseType<ProviderResponse>(StatusCodes.Status201Created)]
    public static Task<IResult> Post(ProviderRequest? request, IDocumentSession documents, SecretBox box, IMessageBus bus, HttpRequest http) =>
        Upsert(null, request, documents, box, bus, http, replace: false);

    [Authorize(Policy = Policies.OrgAdmin)]
    [WolverinePut("/v1/providers/{id}"), ProducesResponseType<ProviderResponse>(StatusCodes.Status201Created), ProducesResponseType<ProviderResponse>(StatusCodes.Status200OK)]
    public static Task<IResult> Put(string id, ProviderRequest? request, IDocumentSession documents, SecretBox box, IMessageBus bus,
        HttpRequest http) =>
        Ids.IsValid(id, Ids.Provider)
            ? Upsert(id, request, documents, box, bus, http, replace: true)
            : Task.FromResult(Problems.Result(Problems.BadRequest("invalid_provider_id", $"'{id}' is not a provider id (provider_<32 hex>)")));

    [Authorize(Policy = Policies.OrgAdmin)]
    [WolverinePatch("/v1/providers/{id}"), ProducesResponseType<ProviderResponse>(StatusCodes.Status200OK)]
    public static async Task<IResult> Patch(string id, ProviderRequest? request, IDocumentSession documents, SecretBox box, IMessageBus bus,
        HttpRequest http)
    {
        var caller = http.Caller();
        var provider = await FindAsync(documents, id);
        if (provider is null) return Problems.Result(NotFound(id));
        request ??= new ProviderRequest(null, null, null, null, null, null);
        if (Validate(request.Name ?? provider.Name, request.ProviderType ?? provider.ProviderType, request.BaseUrl, request.Status) is { } invalid)
            return Problems.Result(invalid);
        if (request.Name is not null && request.Name.Trim() != provider.Name &&
            await NameTakenAsync(documents, caller.Org, request.Name.Trim(), provider.Id))
            return Problems.Result(NameTaken(request.Name));

        var key = KeyOf(request);
        if (key is not null && !box.Enabled) return Problems.Result(EncryptionOff());
        provider.Name = request.Name?.Trim() ?? provider.Name;
        provider.ProviderType = request.ProviderType ?? provider.ProviderType;
        provider.BaseUrl = request.BaseUrl ?? provider.BaseUrl;
        provider.Status = request.Status ?? provider.Status;
        if (key is not null) provider.ApiKeySealed = key.Length == 0 ? null : box.Seal(key, provider.Binding);
        provider.UpdatedAt = DateTimeOffset.UtcNow;
        documents.Store(provider);
        await Audit(bus, caller, "provider.updated", provider, key is not null);
        return Results.Ok(ProviderResponse.From(provider, http));
    }

    [Authorize(Policy = Policies.OrgAdmin)]
    [WolverineDelete("/v1/providers/{id}"), ProducesResponseType(StatusCodes.Status204NoContent)]
    public static async Task<IResult> Delete(string id, IDocumentSession documents, IMessageBus bus, HttpRequest http)
    {
        var caller = http.Caller();
        var provider = await FindAsync(documents, id);
        if (provider is null) return Problems.Result(NotFound(id));
        documents.Delete(provider);
        documents.DeleteWhere<ProviderModel>(m => m.ProviderId == provider.Id); // its models go with it
        await Audit(bus, caller, "provider.deleted", provider, false);
        return Results.NoContent();
    }

    private static async Task<IResult> Upsert(string? id, ProviderRequest? request, IDocumentSession documents, SecretBox box, IMessageBus bus,
        HttpRequest http, bool replace)
    {
        var caller = http.Caller();
        if (request is null) return Problems.Result(Problems.BadRequest("invalid_body", "the request body must be a JSON object"));
        if (Validate(request.Name, request.ProviderType, request.BaseUrl, request.Status) is { } invalid) return Problems.Result(invalid);
        var key = KeyOf(request);
        if (!string.IsNullOrEmpty(key) && !box.Enabled) return Problems.Result(EncryptionOff());

        // The org's documents only: an id another org uses is free here, and its provider is never touched.
        var existing = id is null ? null : await documents.LoadAsync<Provider>(id);
        var name = request.Name!.Trim();
        if (await NameTakenAsync(documents, caller.Org, name, existing?.Id)) return Problems.Result(NameTaken(name));

        var now = DateTimeOffset.UtcNow;
        var provider = existing ?? new Provider { Id = id ?? Ids.New(Ids.Provider), OrgId = caller.Org, CreatedAt = now };
        provider.Name = name;
        provider.ProviderType = request.ProviderType!;
        provider.BaseUrl = request.BaseUrl;
        provider.Status = request.Status ?? ProviderStatus.Active;
        provider.ApiKeySealed = string.IsNullOrEmpty(key) ? null : box.Seal(key, provider.Binding);
        provider.UpdatedAt = now;
        documents.Store(provider);
        await Audit(bus, caller, existing is null ? "provider.created" : "provider.updated", provider, !string.IsNullOrEmpty(key));

        var response = ProviderResponse.From(provider, http);
        return existing is null || !replace ? Results.Created(response.SelfUrl, response) : Results.Ok(response);
    }

    /// <summary><c>credentials.api_key</c> wins over <c>api_key</c> (as in the Everruns API); "" clears the key on PATCH.</summary>
    private static string? KeyOf(ProviderRequest request) =>
        request.Credentials?.GetValueOrDefault("api_key") ?? request.ApiKey;

    private static ProblemDetails? Validate(string? name, string? type, string? baseUrl, string? status)
    {
        if (string.IsNullOrWhiteSpace(name) || name.Trim().Length > 200)
            return Problems.BadRequest("invalid_name", "name is required (1 to 200 characters)");
        if (type is null || !ProviderType().IsMatch(type))
            return Problems.BadRequest("invalid_provider_type", "provider_type is required: a lowercase name such as 'openai' or 'anthropic'");
        if (baseUrl is not null && !(Uri.TryCreate(baseUrl, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"))
            return Problems.BadRequest("invalid_base_url", "base_url must be an absolute http(s) URL");
        if (status is not (null or ProviderStatus.Active or ProviderStatus.Disabled))
            return Problems.BadRequest("invalid_status", "status must be 'active' or 'disabled'");
        return null;
    }

    private static async Task<Provider?> FindAsync(IQuerySession documents, string id)
    {
        if (!Ids.IsValid(id, Ids.Provider)) return null;
        return await documents.LoadAsync<Provider>(id); // the session is the org's: another org's provider is not found
    }

    private static Task<bool> NameTakenAsync(IQuerySession documents, string org, string name, string? except) =>
        documents.Query<Provider>().AnyAsync(p => p.Name == name && p.Id != except);

    private static Task Audit(IMessageBus bus, Caller caller, string action, Provider provider, bool keyChanged) =>
        bus.PublishAsync(new AuditAction(caller.Org, caller.Actor, action, provider.Id, new Dictionary<string, string>
        {
            ["name"] = provider.Name,
            ["provider_type"] = provider.ProviderType,
            ["api_key_changed"] = keyChanged ? "true" : "false",
        })).AsTask();

    private static ProblemDetails NotFound(string id) => Problems.NotFound("provider_not_found", $"provider {id} not found");

    private static ProblemDetails NameTaken(string name) => Problems.Conflict("provider_name_taken", $"another provider is named '{name}'");

    private static ProblemDetails EncryptionOff() => Problems.Create(StatusCodes.Status503ServiceUnavailable, "secrets_encryption_not_configured",
        "this server cannot store credentials: SECRETS_ENCRYPTION_KEY is not set");
}
