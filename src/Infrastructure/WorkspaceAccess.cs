using Everruns.Contracts;
using Marten;
using Npgsql;

namespace Everruns.Infrastructure;

// What Workspaces lets the other modules do, in process, on their own connection or document session (and so in their
// transaction). The implementations are the Workspaces module's.

/// <summary>
/// Workspaces: the files of a workspace, in PostgreSQL. Every operation runs on the caller's connection and, when it has
/// one, its transaction (a tool's change commits with its <c>tool.completed</c>); a write takes the workspace's lock
/// (transaction-scoped) and checks read-only files, the archived state, the quotas and the expected content hash under it.
/// Paths are as the API gives them (<c>/a/b.txt</c>, <c>a/b.txt</c>, <c>/workspace/a/b.txt</c>). The API's routes and the
/// agent's file tools use these alike.
/// </summary>
public interface IWorkspaceFiles
{
    Task<FileOutcome> ReadAsync(NpgsqlConnection connection, string orgId, FileScope scope, string path, CancellationToken ct);

    Task<FileOutcome> ListAsync(NpgsqlConnection connection, string orgId, FileScope scope, string path, bool recursive, CancellationToken ct);

    Task<FileOutcome> StatAsync(NpgsqlConnection connection, string orgId, FileScope scope, string path, CancellationToken ct);

    /// <summary>
    /// Creates (<paramref name="mode"/> create: refused when the path exists), replaces (replace: refused when it does
    /// not) or writes (upsert) a file, or a directory when <paramref name="content"/> is null and <paramref name="directory"/>.
    /// <paramref name="expectedHash"/>: the content hash the caller read, refused (409) when the file changed since.
    /// <paramref name="readonlyFlag"/> alone (no content) changes only the flag.
    /// </summary>
    Task<FileOutcome> WriteAsync(NpgsqlConnection connection, string orgId, FileScope scope, string path, byte[]? content,
        WriteMode mode, bool directory = false, bool? readonlyFlag = null, string? expectedHash = null, CancellationToken ct = default);

    Task<FileOutcome> DeleteAsync(NpgsqlConnection connection, string orgId, FileScope scope, string path, bool recursive, CancellationToken ct);

    Task<FileOutcome> MoveAsync(NpgsqlConnection connection, string orgId, FileScope scope, string from, string to, bool copy, CancellationToken ct);

    Task<FileOutcome> GrepAsync(NpgsqlConnection connection, string orgId, FileScope scope, string pattern, string? pathPattern, CancellationToken ct);
}

/// <summary>Workspaces, for Sessions: a session's workspace, chosen or made, with its initial files.</summary>
public interface IWorkspaceDirectory
{
    /// <summary>
    /// In the caller's document session (its transaction): the named workspace (active, in the org) for the new session,
    /// or a new default one, with <paramref name="files"/> written into it. The workspace id, or the refusal.
    /// </summary>
    Task<(string? WorkspaceId, FileOutcome? Refused)> AttachAsync(IDocumentSession documents, string orgId, string sessionId,
        string? workspaceId, IReadOnlyList<InitialFile> files, CancellationToken ct, IReadOnlyList<MemoryMount>? mounts = null);

    /// <summary>
    /// In the caller's document session (its transaction): a new default workspace for the fork <paramref name="sessionId"/>
    /// holding a copy of every file and directory of <paramref name="sourceWorkspaceId"/> (empty when it is null or gone).
    /// The new workspace's id.
    /// </summary>
    Task<string> CopyForForkAsync(IDocumentSession documents, string orgId, string sessionId, string? sourceWorkspaceId, CancellationToken ct);
}

/// <summary>
/// The <c>memory</c> capability's mounts: <c>{"mounts":[{"memory":"mem_...","path":"/workspace/notes","mode":"readonly"|"readwrite"}]}</c>
/// (read-only by default), as a session's files see them.
/// </summary>
public static class MemoryMounts
{
    public const string Capability = "memory";

    /// <summary>The mounts of the enabled <c>memory</c> capabilities (already checked when they were set).</summary>
    public static IReadOnlyList<MemoryMount> From(IEnumerable<CapabilityRef> capabilities) =>
        capabilities.Where(c => c.Ref == Capability).SelectMany(c => Parse(c.Config).Mounts).ToList();

    /// <summary>The mounts of one <c>memory</c> capability's config, or why it is not valid.</summary>
    public static (IReadOnlyList<MemoryMount> Mounts, string? Problem) Parse(System.Text.Json.Nodes.JsonNode? config)
    {
        if (config?["mounts"] is not System.Text.Json.Nodes.JsonArray items || items.Count == 0)
            return ([], "the memory capability needs config {\"mounts\":[{\"memory\":\"mem_...\",\"path\":\"/memory/notes\",\"mode\":\"readonly\"}]}");
        var mounts = new List<MemoryMount>();
        foreach (var item in items)
        {
            var memory = (string?)item?["memory"];
            var path = NormalizeMountPath((string?)item?["path"]);
            var mode = (string?)item?["mode"] ?? "readonly";
            if (!Ids.IsValid(memory, Ids.Memory)) return ([], $"mount memory '{memory}' is not a memory id (mem_<32 hex>)");
            if (path is null) return ([], $"mount path '{item?["path"]}' is not a valid path (absolute, not the root)");
            if (mode is not ("readonly" or "readwrite")) return ([], $"mount mode '{mode}' must be readonly or readwrite");
            if (mounts.Any(m => m.Path == path || m.Path.StartsWith(path + "/", StringComparison.Ordinal) || path.StartsWith(m.Path + "/", StringComparison.Ordinal)))
                return ([], $"mount path {path} overlaps another mount");
            mounts.Add(new MemoryMount(memory!, path, mode == "readwrite"));
        }

        return (mounts, null);
    }

    private static string? NormalizeMountPath(string? raw)
    {
        if (raw is null || raw.Contains('\0') || raw.Contains("..", StringComparison.Ordinal) || raw.Contains("//", StringComparison.Ordinal)) return null;
        var path = raw.StartsWith('/') ? raw : "/" + raw;
        if (path.StartsWith("/workspace/", StringComparison.Ordinal)) path = path["/workspace".Length..];
        path = path.TrimEnd('/');
        return path.Length <= 1 || path[1] == '_' ? null : path;
    }
}
