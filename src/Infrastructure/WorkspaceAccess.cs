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
    Task<FileOutcome> ReadAsync(NpgsqlConnection connection, string orgId, string workspaceId, string path, CancellationToken ct);

    Task<FileOutcome> ListAsync(NpgsqlConnection connection, string orgId, string workspaceId, string path, bool recursive, CancellationToken ct);

    Task<FileOutcome> StatAsync(NpgsqlConnection connection, string orgId, string workspaceId, string path, CancellationToken ct);

    /// <summary>
    /// Creates (<paramref name="mode"/> create: refused when the path exists), replaces (replace: refused when it does
    /// not) or writes (upsert) a file, or a directory when <paramref name="content"/> is null and <paramref name="directory"/>.
    /// <paramref name="expectedHash"/>: the content hash the caller read, refused (409) when the file changed since.
    /// <paramref name="readonlyFlag"/> alone (no content) changes only the flag.
    /// </summary>
    Task<FileOutcome> WriteAsync(NpgsqlConnection connection, string orgId, string workspaceId, string path, byte[]? content,
        WriteMode mode, bool directory = false, bool? readonlyFlag = null, string? expectedHash = null, CancellationToken ct = default);

    Task<FileOutcome> DeleteAsync(NpgsqlConnection connection, string orgId, string workspaceId, string path, bool recursive, CancellationToken ct);

    Task<FileOutcome> MoveAsync(NpgsqlConnection connection, string orgId, string workspaceId, string from, string to, bool copy, CancellationToken ct);

    Task<FileOutcome> GrepAsync(NpgsqlConnection connection, string orgId, string workspaceId, string pattern, string? pathPattern, CancellationToken ct);
}

/// <summary>Workspaces, for Sessions: a session's workspace, chosen or made, with its initial files.</summary>
public interface IWorkspaceDirectory
{
    /// <summary>
    /// In the caller's document session (its transaction): the named workspace (active, in the org) for the new session,
    /// or a new default one, with <paramref name="files"/> written into it. The workspace id, or the refusal.
    /// </summary>
    Task<(string? WorkspaceId, FileOutcome? Refused)> AttachAsync(IDocumentSession documents, string orgId, string sessionId,
        string? workspaceId, IReadOnlyList<InitialFile> files, CancellationToken ct);
}
