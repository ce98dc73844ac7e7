using System.Security.Cryptography;
using System.Text;
using Everruns.Infrastructure;
using Marten;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Wolverine.Http;

namespace Everruns.Modules.Identity;

/// <summary>
/// A dashboard's sign-in: a personal access token exchanged for an HttpOnly, SameSite=Strict cookie. The server keeps
/// the cookie's HMAC (never the cookie, never the token), the token it stands for, and a CSRF token the page sends
/// back on every change. Stored in PostgreSQL, so any instance serves it; signing out or revoking the token ends it
/// everywhere (through <see cref="IdentityChanges"/>).
/// </summary>
public sealed class UiSession
{
    public string Id { get; set; } = "";
    public string TokenId { get; set; } = "";
    public string UserId { get; set; } = "";
    public string CsrfToken { get; set; } = "";
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset ExpiresAt { get; set; }
}

/// <summary>The dashboard session a request came with (set by <see cref="TokenAuthentication"/>).</summary>
public sealed record UiSessionFeature(string SessionId, string Csrf, DateTimeOffset? ExpiresAt);

public static class UiSessions
{
    public const string Cookie = "everruns_session";
    public const string CsrfHeader = "X-CSRF-Token";
    public const string Prefix = "evr_uis_";
    public static readonly TimeSpan Lifetime = TimeSpan.FromHours(12);

    public static string NewSecret() => Prefix + Convert.ToHexString(RandomNumberGenerator.GetBytes(32)).ToLowerInvariant();

    public static bool IsWellFormed(string? cookie) => cookie is { Length: 72 } && cookie.StartsWith(Prefix, StringComparison.Ordinal);

    /// <summary>Whether a change (not GET/HEAD/OPTIONS) carries the session's CSRF token and, when the browser says, comes from this origin.</summary>
    public static bool PassesCsrf(HttpRequest request, string csrf)
    {
        if (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method) || HttpMethods.IsOptions(request.Method)) return true;
        if (!SameOrigin(request)) return false;
        var sent = request.Headers[CsrfHeader].ToString();
        return sent.Length == csrf.Length && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(sent), Encoding.UTF8.GetBytes(csrf));
    }

    /// <summary>A browser names the page's origin on a cross-origin or unsafe request: it must be this server's.</summary>
    public static bool SameOrigin(HttpRequest request)
    {
        var origin = request.Headers.Origin.ToString();
        if (origin.Length == 0) return request.Headers["Sec-Fetch-Site"].ToString() is "" or "same-origin" or "none";
        return Uri.TryCreate(origin, UriKind.Absolute, out var uri) &&
               string.Equals(uri.Authority, request.Host.Value, StringComparison.OrdinalIgnoreCase);
    }

    public static void SetCookie(HttpContext http, string secret, DateTimeOffset expires) =>
        http.Response.Cookies.Append(Cookie, secret, new CookieOptions
        {
            HttpOnly = true, SameSite = SameSiteMode.Strict, Path = "/", Expires = expires, IsEssential = true,
            // Behind a TLS-terminating proxy the request here is plain HTTP: its X-Forwarded-Proto says the browser's.
            Secure = http.Request.IsHttps || http.Request.Headers["X-Forwarded-Proto"].ToString() == "https",
        });
}

public sealed record SignInRequest(string? Token);

public sealed record UiSessionResponse(string CsrfToken, string UserId, DateTimeOffset? ExpiresAt, IReadOnlyList<UiOrg> Orgs, bool SystemAdmin);

public sealed record UiOrg(string Id, string Name, string Role);

/// <summary>/v1/auth/session: sign a browser in with a token (a cookie), read the session (its CSRF token), sign out.</summary>
public static class UiSessionEndpoints
{
    [AllowAnonymous]
    [WolverinePost("/v1/auth/session"), ProducesResponseType<UiSessionResponse>(StatusCodes.Status201Created)]
    public static async Task<IResult> SignIn(SignInRequest? request, HttpContext http, IdentityStore store, TimeProvider clock)
    {
        if (!UiSessions.SameOrigin(http.Request))
            return Problems.Result(Problems.Create(StatusCodes.Status403Forbidden, "csrf_refused", "sign-in must come from this server's own pages"));
        var token = request?.Token?.Trim();
        if (!AccessTokens.IsWellFormed(token))
            return Problems.Result(Problems.Create(StatusCodes.Status401Unauthorized, "invalid_token",
                "Invalid personal access token format (evr_pat_ and 64 hex digits)"));
        var principal = await store.ResolveAsync(token!, http.RequestAborted);
        if (principal is null || principal.ExpiresAt <= clock.GetUtcNow())
            return Problems.Result(Problems.Create(StatusCodes.Status401Unauthorized, "invalid_token", "Invalid or expired personal access token"));

        var (secret, session) = await store.CreateUiSessionAsync(principal, http.RequestAborted);
        UiSessions.SetCookie(http, secret, session.ExpiresAt);
        return Results.Created("/v1/auth/session", await ResponseAsync(store, principal.UserId, principal.SystemAdmin, session.CsrfToken,
            session.ExpiresAt, http.RequestAborted));
    }

    [Authorize(Policy = Policies.User)]
    [WolverineGet("/v1/auth/session"), ProducesResponseType<UiSessionResponse>(StatusCodes.Status200OK)]
    public static async Task<IResult> Get(HttpContext http, IdentityStore store)
    {
        if (http.Features.Get<UiSessionFeature>() is not { } session)
            return Problems.Result(Problems.NotFound("no_session", "this request came with a token, not a dashboard session"));
        var caller = http.Caller();
        return Results.Ok(await ResponseAsync(store, caller.UserId, caller.SystemAdmin, session.Csrf, session.ExpiresAt, http.RequestAborted));
    }

    [Authorize(Policy = Policies.User)]
    [WolverineDelete("/v1/auth/session"), ProducesResponseType(StatusCodes.Status204NoContent)]
    public static async Task<IResult> SignOut(HttpContext http, IdentityStore store)
    {
        if (http.Features.Get<UiSessionFeature>() is { } session) await store.DeleteUiSessionAsync(session.SessionId, http.Caller().Actor, http.RequestAborted);
        http.Response.Cookies.Delete(UiSessions.Cookie, new CookieOptions { Path = "/", SameSite = SameSiteMode.Strict, HttpOnly = true });
        return Results.NoContent();
    }

    private static async Task<UiSessionResponse> ResponseAsync(IdentityStore store, string userId, bool systemAdmin, string csrf,
        DateTimeOffset? expires, CancellationToken ct) =>
        new(csrf, userId, expires, (await store.OrgsOfAsync(userId, ct)).Select(o => new UiOrg(o.Org.Id, o.Org.Name, o.Role)).ToList(), systemAdmin);
}
