namespace Everruns.Contracts;

/// <summary>
/// The org the first start creates (the bootstrap org). Data written before identity existed belongs to it,
/// so an upgraded deployment keeps every agent and session.
/// </summary>
public static class Tenancy
{
    public const string DefaultOrgId = "org_00000000000000000000000000000001";
    public const string DefaultWorkspaceId = "workspace_00000000000000000000000000000001";
}

/// <summary>The built-in harness every agent and session runs on unless told otherwise.</summary>
public static class BuiltInHarness
{
    public const string Id = "harness_00000000000000000000000000000001";
    public const string Name = "generic";
}
