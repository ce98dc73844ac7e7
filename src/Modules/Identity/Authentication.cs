using System.Globalization;
using System.Security.Claims;
using System.Text.Encodings.Web;
using Everruns.Contracts;
using Everruns.Infrastructure;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Everruns.Modules.Identity;

/// <summary>
/// Personal access tokens as an ASP.NET Core authentication scheme: <c>Authorization: &lt;token&gt;</c> or
/// <c>Authorization: Bearer &lt;token&gt;</c>. The org comes from <c>X-Org-Id</c>, or is the token user's only org.
/// The outcome is the request's <see cref="Caller"/> (and the matching claims); a refused token answers through
/// <see cref="HandleChallengeAsync"/> with the problem that says why.
/// </summary>
public sealed class TokenAuthentication(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder,
    IdentityStore store, TimeProvider clock) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string Name = "everruns-token";
    public const string OrgHeader = "X-Org-Id";

    /// <summary>How many orgs the token's user belongs to (to tell "choose one" from "none").</summary>
    public const string OrgCountClaim = "everruns:org_count";

    /// <summary>Why the credentials were refused, for the challenge.</summary>
    private sealed record Refusal(ProblemDetails Problem);

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        // Open routes (health, metrics) never touch the token store, whatever headers they carry.
        if (Context.GetEndpoint()?.Metadata.GetMetadata<IAllowAnonymous>() is not null) return AuthenticateResult.NoResult();
        var token = AccessTokens.FromHeader(Request.Headers.Authorization);
        TokenPrincipal? principal;
        if (token is null)
        {
            // A dashboard's cookie (never with a token: a request that carries one is the token's).
            if (Request.Cookies[UiSessions.Cookie] is not { } cookie) return AuthenticateResult.NoResult();
            principal = UiSessions.IsWellFormed(cookie) ? await store.ResolveUiSessionAsync(cookie, Context.RequestAborted) : null;
            if (principal is null) return Refuse(Unauthorized("session_expired", "Your dashboard session ended: sign in again"));
            if (!UiSessions.PassesCsrf(Request, principal.Csrf!))
                return Refuse(Problems.Create(StatusCodes.Status403Forbidden, "csrf_refused",
                    $"a change through a dashboard session needs its {UiSessions.CsrfHeader} header, from this server's own pages"));
            Context.Features.Set(new UiSessionFeature(principal.SessionId!, principal.Csrf!, principal.ExpiresAt));
        }
        else
        {
            if (!AccessTokens.IsWellFormed(token))
                return Refuse(Unauthorized("invalid_token", "Invalid personal access token format (evr_pat_ and 64 hex digits)"));
            principal = await store.ResolveAsync(token, Context.RequestAborted);
            if (principal is null) return Refuse(Unauthorized("invalid_token", "Invalid personal access token"));
        }

        if (principal.ExpiresAt <= clock.GetUtcNow()) return Refuse(Unauthorized("token_expired", "Personal access token expired"));

        string? org = null, role = null;
        var requested = Request.Headers[OrgHeader].ToString().Trim();
        if (requested.Length > 0)
        {
            // Another org's id and a malformed one look the same: never reveal which orgs exist.
            if (!principal.Orgs.TryGetValue(requested, out role))
                return Refuse(Problems.NotFound("org_not_found", $"organization {requested} not found"));
            org = requested;
        }
        else if (principal.Orgs.Count == 1)
        {
            (org, role) = principal.Orgs.Single();
        }

        var caller = new Caller(principal.UserId, principal.TokenId, org, role, principal.SystemAdmin);
        Context.Features.Set(caller);
        List<Claim> claims =
        [
            new(ClaimTypes.NameIdentifier, caller.UserId),
            new(OrgCountClaim, principal.Orgs.Count.ToString(CultureInfo.InvariantCulture)),
        ];
        if (org is not null) claims.Add(new Claim(CallerExtensions.OrgClaim, org));
        if (role is not null) claims.Add(new Claim(ClaimTypes.Role, role));
        if (caller.SystemAdmin) claims.Add(new Claim(ClaimTypes.Role, Policies.DeploymentAdmin));
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(new ClaimsIdentity(claims, Name)), Name));
    }

    private AuthenticateResult Refuse(ProblemDetails problem)
    {
        Context.Features.Set(new Refusal(problem));
        return AuthenticateResult.Fail(problem.Detail ?? problem.Title ?? "refused");
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var problem = Context.Features.Get<Refusal>()?.Problem
                      ?? Unauthorized("unauthorized", "Authentication required: send 'Authorization: <personal access token>'");
        if (problem.Status == StatusCodes.Status401Unauthorized) Response.Headers.WWWAuthenticate = "Bearer";
        return Problems.Result(problem).ExecuteAsync(Context);
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        Problems.Result(Problems.Forbidden("this token may not do this")).ExecuteAsync(Context);

    private static ProblemDetails Unauthorized(string code, string detail) => Problems.Create(StatusCodes.Status401Unauthorized, code, detail);
}

/// <summary>
/// What a policy requires of the <see cref="Caller"/>, and the problem to answer when the caller falls short (a missing
/// org is a 400 asking to choose one, not a bare 403).
/// </summary>
public sealed class CallerRequirement(Func<Caller, bool> allows, Func<Caller, HttpContext, ProblemDetails> refusal)
    : AuthorizationHandler<CallerRequirement>, IAuthorizationRequirement
{
    public ProblemDetails Refusal(Caller caller, HttpContext http) => refusal(caller, http);

    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, CallerRequirement requirement)
    {
        if (context.Resource is HttpContext http && http.Features.Get<Caller>() is { } caller && requirement == this && allows(caller))
            context.Succeed(requirement);
        return Task.CompletedTask;
    }
}

/// <summary>The policies of <see cref="Policies"/>, and the answers when one refuses.</summary>
public static class TokenPolicies
{
    private static readonly CallerRequirement InOrg = new(c => c.OrgId is not null, (_, http) =>
        int.TryParse(http.User.FindFirst(TokenAuthentication.OrgCountClaim)?.Value, out var orgs) && orgs > 0
            ? Problems.BadRequest("org_required",
                $"this token has access to {orgs} organizations: choose one with the {TokenAuthentication.OrgHeader} header")
            : Problems.Create(StatusCodes.Status403Forbidden, "no_org", "this token's user belongs to no organization"));

    private static readonly CallerRequirement Admin = new(c => c.IsOrgAdmin, (c, _) =>
        Problems.Forbidden($"only admins of the organization {c.OrgId} may do this"));

    private static readonly CallerRequirement SystemAdmin = new(c => c.SystemAdmin, (_, _) =>
        Problems.Forbidden("deployment administrators only"));

    public static void Add(IServiceCollection services)
    {
        services.AddAuthentication(TokenAuthentication.Name)
            .AddScheme<AuthenticationSchemeOptions, TokenAuthentication>(TokenAuthentication.Name, null);
        services.AddSingleton<IAuthorizationHandler>(InOrg);
        services.AddSingleton<IAuthorizationHandler>(Admin);
        services.AddSingleton<IAuthorizationHandler>(SystemAdmin);
        services.AddSingleton<IAuthorizationMiddlewareResultHandler, Refusals>();
        services.AddAuthorization(options =>
        {
            AuthorizationPolicy Policy(params CallerRequirement[] requirements) => new AuthorizationPolicyBuilder(TokenAuthentication.Name)
                .RequireAuthenticatedUser().AddRequirements(requirements).Build();

            options.AddPolicy(Policies.User, Policy());
            options.AddPolicy(Policies.Member, Policy(InOrg));
            options.AddPolicy(Policies.OrgAdmin, Policy(InOrg, Admin));
            options.AddPolicy(Policies.DeploymentAdmin, Policy(SystemAdmin));
            // A route that names no policy is an org member's: forgetting the attribute never opens a route.
            options.FallbackPolicy = options.GetPolicy(Policies.Member);
        });
    }

    /// <summary>A refusal answers with the first unmet requirement's problem; a missing or refused token with the challenge.</summary>
    private sealed class Refusals : IAuthorizationMiddlewareResultHandler
    {
        private readonly AuthorizationMiddlewareResultHandler _default = new();

        public Task HandleAsync(RequestDelegate next, HttpContext http, AuthorizationPolicy policy, PolicyAuthorizationResult result)
        {
            if (result.Forbidden && http.Features.Get<Caller>() is { } caller &&
                result.AuthorizationFailure?.FailedRequirements.OfType<CallerRequirement>().FirstOrDefault() is { } unmet)
                return Problems.Result(unmet.Refusal(caller, http)).ExecuteAsync(http);
            return _default.HandleAsync(next, http, policy, result);
        }
    }
}
