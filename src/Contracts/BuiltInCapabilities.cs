namespace Everruns.Contracts;

/// <summary>Capabilities this server implements; anything else named in a request is rejected.</summary>
public static class BuiltInCapabilities
{
    public const string CurrentTime = "current_time";
    public const string WebFetch = "web_fetch";
    public const string SessionStorage = "session_storage";
    public const string SessionFileSystem = "session_file_system";
    public const string Memory = "memory";

    public static IReadOnlyList<(string Id, string Name, string Description)> All { get; } =
    [
        (CurrentTime, "Current time", "Tells the agent the current date and time (UTC or a given IANA time zone)."),
        (WebFetch, "Web fetch", "Fetches a web page or document over HTTP(S) and gives the agent its text (public addresses only, unless the operator allows more)."),
        (SessionStorage, "Session storage", "A key-value store of the session's own that the agent reads and writes across its turns."),
        (SessionFileSystem, "File system", "Lets the agent read, write, edit, list, search, move and delete the files of its session's workspace (/workspace)."),
        (Memory, "Memory", "Mounts org memories into the session's files (config: mounts of a memory at a path, readonly or readwrite); the file tools and the session's /fs routes see them."),
    ];

    public static bool IsKnown(string id) => All.Any(c => c.Id == id) || Aliases.ContainsKey(id);

    /// <summary>Other names Everruns gives a capability (the file system's feature name); stored as the capability's own id.</summary>
    public static IReadOnlyDictionary<string, string> Aliases { get; } = new Dictionary<string, string> { ["file_system"] = SessionFileSystem };

    /// <summary>The capability as stored: its own id for an alias.</summary>
    public static CapabilityRef Canonical(CapabilityRef capability) =>
        Aliases.TryGetValue(capability.Ref, out var id) ? capability with { Ref = id } : capability;

    /// <summary>The names of the tools the built-in capabilities give the model (which a client tool may not take).</summary>
    public static IReadOnlyList<string> ToolNames { get; } =
        [CurrentTime, WebFetch, "storage_set", "storage_get", "storage_list", "storage_delete",
         "read_file", "write_file", "edit_file", "list_directory", "grep_files", "delete_file", "move_file", "stat_file"];

    public static bool IsToolName(string name) => ToolNames.Contains(name);

    /// <summary>The tools a capability gives the model (a preview lists them).</summary>
    public static IReadOnlyList<string> ToolsOf(string capability) => Canonical(new CapabilityRef(capability)).Ref switch
    {
        CurrentTime => [CurrentTime],
        WebFetch => [WebFetch],
        SessionStorage => ["storage_set", "storage_get", "storage_list", "storage_delete"],
        SessionFileSystem or Memory => ["read_file", "write_file", "edit_file", "list_directory", "grep_files", "delete_file", "move_file", "stat_file"],
        _ => [],
    };
}
