using Everruns.Contracts;
using Everruns.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace Everruns.Modules.Identity;

/// <summary>
/// Every route but the open ones needs a personal access token: <c>Authorization: &lt;token&gt;</c> or
/// <c>Authorization: Bearer &lt;token&gt;</c>. The org comes from <c>X-Org-Id</c>, or is the token user's only org.
/// The outcome is the request's <see cref="Caller"/>.
/// </summary>
public sealed class Authentication(RequestDelegate next, IdentityStore store, TimeProvider clock)
{
    public const string OrgHeader = "X-Org-Id";

    /// <summary>Probes and the public build/status documents: open to load balancers and scrapers.</summary>
    public static bool IsOpen(PathString path) =>
        path.StartsWithSegments("/health") || path == "/conformance" || path == "/status" || path == "/metrics";

    /// <summary>Routes that act on the user or the deployment, not inside one org.</summary>
    private static bool IsOrgFree(PathString path) =>
        path.StartsWithSegments("/v1/orgs") || path.StartsWithSegments("/v1/auth") || path.StartsWithSegments("/v1/admin") ||
        path.StartsWithSegments("/v1/durable");

    public async Task InvokeAsync(HttpContext http)
    {
        if (IsOpen(http.Request.Path))
        {
            await next(http);
            return;
        }

        var token = AccessTokens.FromHeader(http.Request.Headers.Authorization);
        if (token is null)
        {
            await Unauthorized(http, "unauthorized", "Authentication required: send 'Authorization: <personal access token>'");
            return;
        }

        if (!AccessTokens.IsWellFormed(token))
        {
            await Unauthorized(http, "invalid_token", "Invalid personal access token format (evr_pat_ and 64 hex digits)");
            return;
        }

        var principal = await store.ResolveAsync(token, http.RequestAborted);
        if (principal is null)
        {
            await Unauthorized(http, "invalid_token", "Invalid personal access token");
            return;
        }

        if (principal.ExpiresAt <= clock.GetUtcNow())
        {
            await Unauthorized(http, "token_expired", "Personal access token expired");
            return;
        }

        string? org = null, role = null;
        var requested = http.Request.Headers[OrgHeader].ToString().Trim();
        if (requested.Length > 0)
        {
            // Another org's id and a malformed one look the same: never reveal which orgs exist.
            if (!principal.Orgs.TryGetValue(requested, out role))
            {
                await Problem(http, Problems.NotFound("org_not_found", $"organization {requested} not found"));
                return;
            }

            org = requested;
        }
        else if (principal.Orgs.Count == 1)
        {
            (org, role) = principal.Orgs.Single();
        }
        else if (!IsOrgFree(http.Request.Path))
        {
            await Problem(http, principal.Orgs.Count == 0
                ? Problems.Create(StatusCodes.Status403Forbidden, "no_org", "this token's user belongs to no organization")
                : Problems.BadRequest("org_required",
                    $"this token has access to {principal.Orgs.Count} organizations: choose one with the {OrgHeader} header"));
            return;
        }

        http.Features.Set(new Caller(principal.UserId, principal.TokenId, org, role, principal.SystemAdmin));
        await next(http);
    }

    private static Task Unauthorized(HttpContext http, string code, string detail)
    {
        http.Response.Headers.WWWAuthenticate = "Bearer";
        return Problem(http, Problems.Create(StatusCodes.Status401Unauthorized, code, detail));
    }

    public static Task Problem(HttpContext http, ProblemDetails problem) => Problems.Result(problem).ExecuteAsync(http);
}
