namespace Everruns.Contracts;

/// <summary>
/// Who is calling, as the Identity module authenticated it: the user behind the personal access token, the org the
/// request acts in (null on org-free routes such as <c>/v1/orgs</c>), that user's role there, and whether the user
/// administers the whole deployment.
/// </summary>
public sealed record Caller(string UserId, string TokenId, string? OrgId, string? Role, bool SystemAdmin)
{
    public const string AdminRole = "admin";
    public const string MemberRole = "member";

    public bool IsOrgAdmin => Role == AdminRole;

    /// <summary>The org of an org-scoped route (the Identity module guarantees one there).</summary>
    public string Org => OrgId ?? throw new InvalidOperationException("this route runs without an org");

    /// <summary>How audit entries name this caller.</summary>
    public string Actor => $"user:{UserId}";
}

/// <summary>
/// An administrative action to append to the audit log (published in the acting transaction, so that the entry
/// lands if and only if the action does). <paramref name="OrgId"/> is null for deployment-wide actions.
/// </summary>
public sealed record AuditAction(string? OrgId, string Actor, string Action, string? Target, IReadOnlyDictionary<string, string>? Details = null)
{
    public DateTimeOffset At { get; init; } = DateTimeOffset.UtcNow;
}
