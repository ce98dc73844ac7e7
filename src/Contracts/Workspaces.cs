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

