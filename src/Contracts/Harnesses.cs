namespace Everruns.Contracts;

/// <summary>
/// A harness as <see cref="IHarnessDirectory"/> finds it: the base an agent (or a bare session) runs on. Its system prompt
/// comes before the agent's, its capabilities and initial files under the agent's, its model is the last fallback
/// before the org's default.
/// </summary>
public sealed record HarnessSnapshot(
    string Id, string Name, string? SystemPrompt, string? DefaultModelId, IReadOnlyList<CapabilityRef> Capabilities,
    IReadOnlyList<InitialFile> InitialFiles, string Status, bool IsBuiltIn)
{
    public const string Active = "active";
    public const string Archived = "archived";

    /// <summary>The system prompt a turn runs with: the harness's, then the agent's (or the session's own).</summary>
    public static string Compose(string? harnessPrompt, string? prompt) =>
        string.IsNullOrWhiteSpace(harnessPrompt) ? prompt ?? ""
        : string.IsNullOrEmpty(prompt) ? harnessPrompt
        : harnessPrompt + "\n\n" + prompt;

    /// <summary>The harness's capabilities with the agent's over them (an agent's configuration of the same capability wins).</summary>
    public IReadOnlyList<CapabilityRef> Under(IReadOnlyList<CapabilityRef> capabilities) =>
        [.. Capabilities.Where(c => capabilities.All(o => o.Ref != c.Ref)), .. capabilities];
}

/// <summary>Harnesses: an org's harnesses (its own and the built-in <c>generic</c>).</summary>
public interface IHarnessDirectory
{
    /// <summary>The harness with this id or name in the org (the built-in one for every org); null when there is none.</summary>
    Task<HarnessSnapshot?> FindAsync(string orgId, string idOrName, CancellationToken ct = default);
}
