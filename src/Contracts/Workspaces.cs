namespace Everruns.Contracts;

/// <summary>A file to put into a new session's workspace (the public API's <c>InitialFile</c>).</summary>
public sealed record InitialFile(string? Path, string? Content, string? Encoding = null, bool? IsReadonly = null);

/// <summary>A file or directory of a workspace, as stored (content only when it was asked for).</summary>
public sealed record WorkspaceEntry(
    Guid Id, string WorkspaceId, string Path, bool IsDirectory, bool IsReadonly, long SizeBytes, string? ContentHash,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, byte[]? Content = null)
{
    public string Name => Path == "/" ? "/" : Path[(Path.LastIndexOf('/') + 1)..];
}

/// <summary>A grep hit: the line (1-based) of a file that matched.</summary>
public sealed record GrepHit(string Path, int LineNumber, string Line);

/// <summary>
/// How a file operation ended: <see cref="Ok"/>, or refused with a stable <see cref="Code"/>, an HTTP-like
/// <see cref="Status"/> and a readable <see cref="Message"/>; nothing is written by a refused operation.
/// </summary>
public sealed record FileOutcome(int Status, string? Code, string Message, WorkspaceEntry? Entry = null,
    IReadOnlyList<WorkspaceEntry>? Entries = null, IReadOnlyList<GrepHit>? Hits = null, bool Created = false, string? PreviousHash = null)
{
    public bool Ok => Code is null;

    public static FileOutcome Done(WorkspaceEntry? entry = null, bool created = false, string? previousHash = null) =>
        new(200, null, "ok", entry, Created: created, PreviousHash: previousHash);

    public static FileOutcome Refused(int status, string code, string message) => new(status, code, message);
}

public enum WriteMode
{
    Create,
    Replace,
    Upsert,
}

/// <summary>A file of a workspace changed (written, created, moved, copied or deleted): its sessions get <c>file.written</c>.</summary>
public sealed record FileWritten(string WorkspaceId, string Path, string Operation, long SizeBytes, bool Created);

/// <summary>A file of the session's workspace changed (through the API or a tool of any session sharing it).</summary>
[EventType(EventTypes.FileWritten)]
public sealed record FileWrittenData(string Path, string Operation, long SizeBytes, bool Created) : ISessionEventData;


/// <summary>A memory mounted into a session's files at <paramref name="Path"/> (<c>/memory/notes</c>), read-only unless <paramref name="Writable"/>.</summary>
public sealed record MemoryMount(string MemoryId, string Path, bool Writable);

/// <summary>
/// Whose files an operation sees: a workspace's, and the memories mounted into it for a session (a path under a mount is
/// the memory's file). A workspace id alone converts to a scope without mounts.
/// </summary>
public sealed record FileScope(string WorkspaceId, IReadOnlyList<MemoryMount> Mounts)
{
    public static implicit operator FileScope(string workspaceId) => new(workspaceId, []);

    /// <summary>The store (workspace or memory id) and path inside it of a normalized path, the mount it is under, if any.</summary>
    public (string Store, string Path, MemoryMount? Mount) Resolve(string path)
    {
        foreach (var mount in Mounts)
        {
            if (path == mount.Path) return (mount.MemoryId, "/", mount);
            if (path.StartsWith(mount.Path + "/", StringComparison.Ordinal)) return (mount.MemoryId, path[mount.Path.Length..], mount);
        }

        return (WorkspaceId, path, null);
    }
}
