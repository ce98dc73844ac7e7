using Microsoft.AspNetCore.Authorization;
using Everruns.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Wolverine.Http;

namespace Everruns.Modules.Identity;

public sealed record TokenResponse(
    string Id, string Name, string TokenPrefix, string[] Scopes, DateTimeOffset? ExpiresAt, DateTimeOffset? LastUsedAt, DateTimeOffset CreatedAt)
{
    public static TokenResponse From(TokenRecord t) => new(t.Id, t.Name, t.TokenPrefix, t.Scopes, t.ExpiresAt, t.LastUsedAt, t.CreatedAt);
}

/// <summary>A token as created: the only response that carries the token itself.</summary>
public sealed record TokenCreatedResponse(
    string Id, string Name, string Token, string TokenPrefix, string[] Scopes, DateTimeOffset? ExpiresAt, DateTimeOffset CreatedAt)
{
    public static TokenCreatedResponse From(TokenRecord t, string plaintext) =>
        new(t.Id, t.Name, plaintext, t.TokenPrefix, t.Scopes, t.ExpiresAt, t.CreatedAt);
}

public sealed record CreateTokenRequest(string? Name, string[]? Scopes, int? ExpiresInDays);

/// <summary>The caller's own personal access tokens (the Everruns <c>/v1/auth/personal-access-tokens</c> API).</summary>
public static class TokenEndpoints
{
    [Authorize(Policy = Policies.User)]
    [WolverineGet("/v1/auth/personal-access-tokens"), ProducesResponseType<DataList<TokenResponse>>(StatusCodes.Status200OK)]
    public static async Task<IResult> List(HttpContext http, IdentityStore store) =>
        Results.Ok(new DataList<TokenResponse>((await store.TokensOfAsync(http.Caller().UserId, http.RequestAborted)).Select(TokenResponse.From).ToList()));

    [Authorize(Policy = Policies.User)]
    [WolverinePost("/v1/auth/personal-access-tokens"), ProducesResponseType<TokenCreatedResponse>(StatusCodes.Status201Created)]
    public static async Task<IResult> Create(CreateTokenRequest? request, HttpContext http, IdentityStore store, TimeProvider clock)
    {
        if (string.IsNullOrWhiteSpace(request?.Name) || request.Name.Length > 200)
            return Problems.Result(Problems.BadRequest("invalid_name", "name is required (1 to 200 characters)"));
        if (request.Scopes is { Length: > 0 } scopes && !(scopes is ["*"]))
            return Problems.Result(Problems.BadRequest("unsupported_pat_scopes", "scopes must be [] or [\"*\"]: tokens act with their user's full access"));
        if (request.ExpiresInDays is < 1 or > 3650)
            return Problems.Result(Problems.BadRequest("invalid_expires_in_days", "expires_in_days must be from 1 to 3650"));

        var caller = http.Caller();
        var expires = request.ExpiresInDays is { } days ? clock.GetUtcNow().AddDays(days) : (DateTimeOffset?)null;
        var created = await store.CreateTokenAsync(caller.UserId, request.Name.Trim(), expires, caller.OrgId, caller.Actor, http.RequestAborted);
        if (created is not { } c)
            return Problems.Result(Problems.Conflict("personal_access_token_limit_reached",
                $"a user has at most {IdentityStore.MaxTokensPerUser} live tokens: revoke one first"));
        return Results.Created($"/v1/auth/personal-access-tokens/{c.Token.Id}", TokenCreatedResponse.From(c.Token, c.Plaintext));
    }

    /// <summary>Revokes one of the caller's tokens (a deployment admin may revoke anyone's): refused on every instance within moments.</summary>
    [Authorize(Policy = Policies.User)]
    [WolverineDelete("/v1/auth/personal-access-tokens/{tokenId}"), ProducesResponseType(StatusCodes.Status204NoContent)]
    public static async Task<IResult> Revoke(string tokenId, HttpContext http, IdentityStore store)
    {
        var caller = http.Caller();
        var token = await store.TokenAsync(tokenId, http.RequestAborted);
        if (token is null || token.RevokedAt is not null || (token.UserId != caller.UserId && !caller.SystemAdmin))
            return Problems.Result(Problems.NotFound("token_not_found", "Personal access token not found"));
        await store.RevokeTokenAsync(tokenId, caller.OrgId, caller.Actor, http.RequestAborted);
        return Results.NoContent();
    }
}
