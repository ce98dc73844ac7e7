using Everruns.Contracts;

namespace Everruns.Modules.Harnesses;

/// <summary>
/// A harness of an org: a system prompt, capabilities, initial files and a default model that every agent on it (and
/// every session opened on it) inherits, under the agent's own. Stored as a Marten document, one org's per tenant; the
/// built-in <c>generic</c> harness is not stored (<see cref="GenericHarness"/>).
/// </summary>
public sealed class Harness
{
    public string Id { get; set; } = "";
    public string OrgId { get; set; } = Tenancy.DefaultOrgId;
    public string Name { get; set; } = "";
    public string? DisplayName { get; set; }
    public string? Description { get; set; }
    public string? SystemPrompt { get; set; }
    public string? DefaultModelId { get; set; }
    public List<CapabilityRef> Capabilities { get; set; } = [];
    public List<InitialFile> InitialFiles { get; set; } = [];
    public List<string> Tags { get; set; } = [];
    public string Status { get; set; } = HarnessSnapshot.Active;
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
    public DateTimeOffset? ArchivedAt { get; set; }

    public HarnessSnapshot ToSnapshot() =>
        new(Id, Name, SystemPrompt, DefaultModelId, Capabilities, InitialFiles, Status, IsBuiltIn: false);
}

/// <summary>The built-in harness every org has: it adds nothing to its agents (read-only; copy it to make one of your own).</summary>
public static class GenericHarness
{
    public static readonly DateTimeOffset Epoch = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public static Harness For(string orgId) => new()
    {
        Id = BuiltInHarness.Id,
        OrgId = orgId,
        Name = BuiltInHarness.Name,
        DisplayName = "Generic",
        Description = "The built-in harness: the agent's system prompt, model and capabilities, nothing more.",
        CreatedAt = Epoch,
        UpdatedAt = Epoch,
    };

    public static bool Is(string idOrName) => idOrName is BuiltInHarness.Id or BuiltInHarness.Name;
}

/// <summary>Harnesses defined in code that an org can adopt as its own (<c>POST /v1/harnesses/import?from-example=</c>).</summary>
public static class HarnessExamples
{
    public sealed record Example(string Name, string DisplayName, string Description, string SystemPrompt, IReadOnlyList<string> Tags,
        IReadOnlyList<string> Capabilities, bool DevOnly = false, string? ParentName = BuiltInHarness.Name);

    public static IReadOnlyList<Example> All { get; } =
    [
        new("research-assistant", "Research assistant",
            "Reads the web and keeps notes in its workspace; answers with sources.",
            "You are a careful research assistant. Fetch the pages you need, keep notes in /workspace/notes.md, and cite the address of every source you use.",
            ["research"], [BuiltInCapabilities.WebFetch, BuiltInCapabilities.SessionFileSystem, BuiltInCapabilities.CurrentTime]),
        new("file-worker", "File worker",
            "Works on the files of its session's workspace: reads, writes, edits and searches them.",
            "You work on the files in /workspace. Read before you edit, keep changes small, and say which files you changed.",
            ["files"], [BuiltInCapabilities.SessionFileSystem]),
        new("scheduler", "Scheduler",
            "Knows the date and time and keeps state between turns in session storage.",
            "You help people plan. Check the current time before you reason about dates, and keep what you agreed in session storage.",
            ["planning"], [BuiltInCapabilities.CurrentTime, BuiltInCapabilities.SessionStorage]),
    ];

    public static Example? Find(string name) => All.FirstOrDefault(e => e.Name == name);
}
