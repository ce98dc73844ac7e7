namespace Everruns.Contracts;

/// <summary>Organizations own every resource. Until identity lands, every request acts in the default org.</summary>
public static class Tenancy
{
    public const string DefaultOrgId = "org_00000000000000000000000000000001";
    public const string DefaultWorkspaceId = "workspace_00000000000000000000000000000001";
    public const string DefaultPrincipalId = "principal_00000000000000000000000000000001";
}

/// <summary>The built-in harness every agent and session runs on unless told otherwise.</summary>
public static class BuiltInHarness
{
    public const string Id = "harness_00000000000000000000000000000001";
    public const string Name = "generic";
}
