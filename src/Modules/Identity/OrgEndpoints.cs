using Microsoft.AspNetCore.Authorization;
using Everruns.Contracts;
using Everruns.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Wolverine.Http;

namespace Everruns.Modules.Identity;

/// <summary>The Organization resource as the public API shows it, with the caller's role in it.</summary>
public sealed record OrgResponse(
    string Id, string Name, Dictionary<string, string> DefaultProviderPerService, string? DefaultModelId, string? DefaultHarnessId,
    string? BaseHarnessId, DateTimeOffset? OnboardingCompletedAt, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, string? Role)
{
    public static OrgResponse From(OrgRecord org, string? role) => new(org.Id, org.Name, org.Defaults.ProviderPerService,
        org.Defaults.ModelId, org.Defaults.HarnessId, org.Defaults.BaseHarnessId, org.OnboardingCompletedAt, org.CreatedAt,
        org.UpdatedAt, role);
}

public sealed record OrgRequest(string? Name);

/// <summary>PATCH /v1/orgs/{org}: each field given is changed (a provider map replaces the whole map); absent or null ones stay.</summary>
public sealed record UpdateOrgRequest(
    string? Name, string? DefaultModelId, string? DefaultHarnessId, string? DefaultHarnessName, string? BaseHarnessId,
    Dictionary<string, string>? DefaultProviderPerService);

public sealed record MemberResponse(string UserId, string Name, string Role, DateTimeOffset CreatedAt, TokenCreatedResponse? Token = null);

/// <summary>
/// Organizations. Members see their orgs; org admins rename them and manage members; deployment admins create orgs.
/// Another org's id answers 404, as if it did not exist.
/// </summary>
public static class OrgEndpoints
{
    [Authorize(Policy = Policies.User)]
    [WolverineGet("/v1/orgs"), ProducesResponseType<DataList<OrgResponse>>(StatusCodes.Status200OK)]
    public static async Task<IResult> List(HttpContext http, IdentityStore store)
    {
        var caller = http.Caller();
        var orgs = await store.OrgsOfAsync(caller.UserId, http.RequestAborted);
        return Results.Ok(new DataList<OrgResponse>(orgs.Select(o => OrgResponse.From(o.Org, o.Role)).ToList()));
    }

    [Authorize(Policy = Policies.DeploymentAdmin)]
    [WolverinePost("/v1/orgs"), ProducesResponseType<OrgResponse>(StatusCodes.Status201Created)]
    public static async Task<IResult> Create(OrgRequest? request, HttpContext http, IdentityStore store)
    {
        var caller = http.Caller();
        if (OrgName(request?.Name) is { } invalid) return Problems.Result(invalid);
        // The deployment admin does not join it: they add its first admin with POST /v1/orgs/{org}/members.
        var org = await store.CreateOrgAsync(request!.Name!.Trim(), caller.Actor, http.RequestAborted);
        return Results.Created($"/v1/orgs/{org.Id}", OrgResponse.From(org, null));
    }

    [Authorize(Policy = Policies.User)]
    [WolverineGet("/v1/orgs/{org}"), ProducesResponseType<OrgResponse>(StatusCodes.Status200OK)]
    public static async Task<IResult> Get(string org, HttpContext http, IdentityStore store)
    {
        var (role, problem) = await MembershipAsync(store, http, org, adminOnly: false);
        if (problem is not null) return Problems.Result(problem);
        var found = await store.OrgAsync(org, http.RequestAborted);
        return found is null ? Problems.Result(NotFound(org)) : Results.Ok(OrgResponse.From(found, role));
    }

    [Authorize(Policy = Policies.User)]
    [WolverinePatch("/v1/orgs/{org}"), ProducesResponseType<OrgResponse>(StatusCodes.Status200OK)]
    public static async Task<IResult> Patch(string org, UpdateOrgRequest? request, HttpContext http, IdentityStore store,
        IModelDirectory models, IProviderCredentials providers, IHarnessDirectory harnesses)
    {
        var (role, problem) = await MembershipAsync(store, http, org, adminOnly: true);
        if (problem is not null) return Problems.Result(problem);
        if (request is null) return Problems.Result(Problems.BadRequest("invalid_body", "the request body must be a JSON object"));
        if (request.Name is not null && OrgName(request.Name) is { } invalid) return Problems.Result(invalid);
        if (request.DefaultHarnessId is not null && request.DefaultHarnessName is not null)
            return Problems.Result(Problems.BadRequest("harness_id_and_name", "give default_harness_id or default_harness_name, not both"));
        var (defaultHarness, defaultProblem) = await InputRules.HarnessAsync(harnesses, org, request.DefaultHarnessId, request.DefaultHarnessName, http.RequestAborted);
        var (_, baseProblem) = await InputRules.HarnessAsync(harnesses, org, request.BaseHarnessId, null, http.RequestAborted);
        if (InputRules.First(await InputRules.Model(models, org, request.DefaultModelId, http.RequestAborted), defaultProblem, baseProblem) is { } refused)
            return Problems.Result(refused);
        foreach (var (service, providerId) in request.DefaultProviderPerService ?? [])
        {
            if (!OrgDefaults.ServiceKinds.Contains(service))
                return Problems.Result(Problems.BadRequest("invalid_service_kind",
                    $"'{service}' is not a service kind ({string.Join(", ", OrgDefaults.ServiceKinds)})"));
            if (!Ids.IsValid(providerId, Ids.Provider) || !await providers.ExistsAsync(org, providerId, http.RequestAborted))
                return Problems.Result(Problems.BadRequest("provider_not_found", $"provider {providerId} (for {service}) is not in this organization"));
        }

        var harness = defaultHarness?.Id;
        var changes = new OrgChanges(request.Name?.Trim(), request.DefaultModelId is null ? null : await models.FindAsync(org, request.DefaultModelId, http.RequestAborted),
            harness, request.BaseHarnessId, request.DefaultProviderPerService);
        var updated = await store.UpdateOrgAsync(org, changes, http.Caller().Actor, http.RequestAborted);
        return updated is null ? Problems.Result(NotFound(org)) : Results.Ok(OrgResponse.From(updated, role));
    }

    [Authorize(Policy = Policies.User)]
    [WolverineGet("/v1/orgs/{org}/members"), ProducesResponseType<DataList<MemberResponse>>(StatusCodes.Status200OK)]
    public static async Task<IResult> Members(string org, HttpContext http, IdentityStore store)
    {
        var (_, problem) = await MembershipAsync(store, http, org, adminOnly: false);
        if (problem is not null) return Problems.Result(problem);
        var members = await store.MembersAsync(org, http.RequestAborted);
        return Results.Ok(new DataList<MemberResponse>(members.Select(m => new MemberResponse(m.UserId, m.Name, m.Role, m.CreatedAt)).ToList()));
    }

    public sealed record AddMemberRequest(string? Name, string? UserId, string? Role);

    /// <summary>
    /// With <c>name</c>: a new user (a person or a service) in the org, returned with a first token, shown once.
    /// With <c>user_id</c>: an existing user joins the org (or changes role); their tokens then reach it with X-Org-Id.
    /// </summary>
    [Authorize(Policy = Policies.User)]
    [WolverinePost("/v1/orgs/{org}/members"), ProducesResponseType<MemberResponse>(StatusCodes.Status201Created), ProducesResponseType<MemberResponse>(StatusCodes.Status200OK)]
    public static async Task<IResult> AddMember(string org, AddMemberRequest? request, HttpContext http, IdentityStore store)
    {
        var (_, problem) = await MembershipAsync(store, http, org, adminOnly: true);
        if (problem is not null) return Problems.Result(problem);
        var role = request?.Role ?? Caller.MemberRole;
        if (role is not (Caller.AdminRole or Caller.MemberRole))
            return Problems.Result(Problems.BadRequest("invalid_role", "role must be 'admin' or 'member'"));
        var caller = http.Caller();
        if (request?.UserId is { } userId)
        {
            if (!Ids.IsValid(userId, Ids.User) || !await store.SetMemberAsync(org, userId, role, caller.Actor, http.RequestAborted))
                return Problems.Result(Problems.NotFound("user_not_found", $"user {userId} not found"));
            var member = (await store.MembersAsync(org, http.RequestAborted)).Single(m => m.UserId == userId);
            return Results.Ok(new MemberResponse(member.UserId, member.Name, member.Role, member.CreatedAt));
        }

        if (string.IsNullOrWhiteSpace(request?.Name) || request.Name.Length > 200)
            return Problems.Result(Problems.BadRequest("invalid_name", "name (1 to 200 characters) or user_id is required"));
        var (created, token, plaintext) = await store.CreateMemberAsync(org, request.Name.Trim(), role, caller.Actor, http.RequestAborted);
        return Results.Created($"/v1/orgs/{org}/members/{created.UserId}",
            new MemberResponse(created.UserId, created.Name, created.Role, created.CreatedAt, TokenCreatedResponse.From(token, plaintext)));
    }

    [Authorize(Policy = Policies.User)]
    [WolverineDelete("/v1/orgs/{org}/members/{userId}"), ProducesResponseType(StatusCodes.Status204NoContent)]
    public static async Task<IResult> RemoveMember(string org, string userId, HttpContext http, IdentityStore store)
    {
        var (_, problem) = await MembershipAsync(store, http, org, adminOnly: true);
        if (problem is not null) return Problems.Result(problem);
        var caller = http.Caller();
        return await store.RemoveMemberAsync(org, userId, caller.Actor, http.RequestAborted)
            ? Results.NoContent()
            : Problems.Result(Problems.NotFound("member_not_found", $"user {userId} is not a member of {org}"));
    }

    /// <summary>
    /// The caller's role in <paramref name="org"/> (from the database, not the token cache), or the 404/403 to answer.
    /// Deployment admins manage every org without being members.
    /// </summary>
    private static async Task<(string? Role, ProblemDetails? Problem)> MembershipAsync(IdentityStore store, HttpContext http, string org, bool adminOnly)
    {
        var caller = http.Caller();
        var role = await store.RoleAsync(caller.UserId, org, http.RequestAborted);
        if (role is null)
        {
            if (!caller.SystemAdmin || !Ids.IsValid(org, Ids.Org) || await store.OrgAsync(org, http.RequestAborted) is null)
                return (null, NotFound(org));
            return (null, null);
        }

        if (adminOnly && role != Caller.AdminRole) return (role, Problems.Forbidden($"only admins of {org} may do this"));
        return (role, null);
    }

    private static ProblemDetails? OrgName(string? name) =>
        string.IsNullOrWhiteSpace(name) || name.Trim().Length > 200
            ? Problems.BadRequest("invalid_name", "name is required (1 to 200 characters)")
            : null;

    private static ProblemDetails NotFound(string org) => Problems.NotFound("org_not_found", $"organization {org} not found");
}
