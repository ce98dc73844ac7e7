namespace Everruns.Infrastructure;

/// <summary>
/// The authorization policies endpoints name (<c>[Authorize(Policy = Policies.OrgAdmin)]</c>); the Identity module
/// defines what each requires. An endpoint that names none requires <see cref="Member"/>; open routes say
/// <c>[AllowAnonymous]</c>.
/// </summary>
public static class Policies
{
    /// <summary>Any valid token, whether or not the request acts in an org (routes about the user or across orgs).</summary>
    public const string User = "user";

    /// <summary>A member acting in one org (the token's only org, or the one <c>X-Org-Id</c> names): the default.</summary>
    public const string Member = "member";

    /// <summary>An admin of the org the request acts in.</summary>
    public const string OrgAdmin = "org_admin";

    /// <summary>A deployment administrator (the bootstrap admin, or a user created with system admin rights), in any org or none.</summary>
    public const string DeploymentAdmin = "deployment_admin";
}
