using Everruns.Contracts;
using Everruns.Infrastructure;
using Marten;
using Npgsql;
using Wolverine;

namespace Everruns.Modules.Workspaces;

/// <summary>For Sessions: a new session's workspace (named, or its own default one) and its initial files, in the session's transaction.</summary>
public sealed class WorkspaceDirectory(FileStore files, WorkspaceQuotas quotas) : IWorkspaceDirectory
{
    public async Task<(string? WorkspaceId, FileOutcome? Refused)> AttachAsync(IDocumentSession documents, string orgId, string sessionId,
        string? workspaceId, IReadOnlyList<InitialFile> initial, CancellationToken ct, IReadOnlyList<MemoryMount>? mounts = null)
    {
        // The memories it mounts are the org's, and active; a memory's files cannot be initial files.
        foreach (var mount in mounts ?? [])
        {
            if (await documents.LoadAsync<Memory>(mount.MemoryId, ct) is not { } memory)
                return (null, FileOutcome.Refused(404, "memory_not_found", $"memory {mount.MemoryId} not found"));
            if (memory.Status != WorkspaceStatus.Active)
                return (null, FileOutcome.Refused(409, "memory_archived", $"memory {mount.MemoryId} is archived: it cannot be mounted"));
        }

        Workspace workspace;
        var now = DateTimeOffset.UtcNow;
        if (workspaceId is not null)
        {
            if (!Ids.IsValid(workspaceId, Ids.Workspace) || await documents.LoadAsync<Workspace>(workspaceId, ct) is not { } named)
                return (null, FileOutcome.Refused(404, "workspace_not_found", $"workspace {workspaceId} not found"));
            if (named.Status != WorkspaceStatus.Active)
                return (null, FileOutcome.Refused(409, "workspace_archived", $"workspace {workspaceId} is archived: a new session cannot use it"));
            workspace = named;
            workspace.Sessions.Add(sessionId);
        }
        else
        {
            workspace = OwnOf(sessionId, now);
        }

        if (initial.Count > 0)
        {
            // All checked first (a refusal writes nothing); then written under a savepoint, undone if a shared workspace's
            // own files refuse one of them (a read-only file in the way).
            var decoded = new List<(string Path, byte[] Content, bool ReadOnly)>();
            foreach (var (file, i) in initial.Select((f, i) => (f, i)))
            {
                if (file.Path is null || WorkspacePaths.Normalize(file.Path) is not { } path || path == "/" || WorkspacePaths.Reserved(path))
                    return (null, FileOutcome.Refused(400, "invalid_initial_files", $"initial_files[{i}].path '{file.Path}' is not a valid file path"));
                if (file.Content is null || WorkspaceText.Decode(file.Content, file.Encoding) is not { } bytes)
                    return (null, FileOutcome.Refused(400, "invalid_initial_files",
                        $"initial_files[{i}] needs content, as text or as base64 (encoding \"text\" or \"base64\")"));
                if (bytes.LongLength > quotas.SingleFileMaxBytes)
                    return (null, FileOutcome.Refused(413, "file_too_large", $"initial_files[{i}] is larger than {quotas.SingleFileMaxBytes} bytes"));
                if (new FileScope("", mounts ?? []).Resolve(path).Mount is not null)
                    return (null, FileOutcome.Refused(400, "invalid_initial_files", $"initial_files[{i}] {path} is inside a mounted memory"));
                decoded.Add((path, bytes, file.IsReadonly ?? false));
            }

            await documents.BeginTransactionAsync(ct);
            var connection = (NpgsqlConnection)documents.Connection!;
            await ExecuteAsync(connection, "savepoint initial_files", ct);
            foreach (var (path, content, readOnly) in decoded)
            {
                var written = await files.WriteAsync(connection, orgId, workspace.Id, path, content, WriteMode.Upsert, readonlyFlag: readOnly, ct: ct);
                if (!written.Ok)
                {
                    await ExecuteAsync(connection, "rollback to savepoint initial_files", ct);
                    return (null, written with { Code = "invalid_initial_files", Message = $"initial file {path}: {written.Message}" });
                }
            }
        }

        workspace.UpdatedAt = now;
        documents.Store(workspace);
        return (workspace.Id, null);
    }

    public async Task<string> CopyForForkAsync(IDocumentSession documents, string orgId, string sessionId, string? sourceWorkspaceId,
        CancellationToken ct)
    {
        var now = DateTimeOffset.UtcNow;
        var workspace = OwnOf(sessionId, now);
        if (sourceWorkspaceId is not null)
        {
            // Row for row in the store (the content never comes here), each with an id of its own.
            await documents.BeginTransactionAsync(ct);
            await using var cmd = new NpgsqlCommand("""
                insert into everruns.workspace_files (tenant_id, id, workspace_id, path, is_directory, is_readonly, size_bytes, content_hash, content, created_at, updated_at)
                select tenant_id, gen_random_uuid(), @target, path, is_directory, is_readonly, size_bytes, content_hash, content, @now, @now
                from everruns.workspace_files where tenant_id = @org and workspace_id = @source
                """, (NpgsqlConnection)documents.Connection!);
            cmd.Parameters.AddWithValue("org", orgId);
            cmd.Parameters.AddWithValue("source", sourceWorkspaceId);
            cmd.Parameters.AddWithValue("target", workspace.Id);
            cmd.Parameters.AddWithValue("now", now);
            await cmd.ExecuteNonQueryAsync(ct);
        }

        documents.Store(workspace);
        return workspace.Id;
    }

    /// <summary>A session's own workspace (named after it), new.</summary>
    private static Workspace OwnOf(string sessionId, DateTimeOffset now) => new()
    {
        Id = Ids.New(Ids.Workspace), Name = $"session-{sessionId[(Ids.Session.Length + 1)..]}", SessionId = sessionId,
        Sessions = [sessionId], CreatedAt = now, UpdatedAt = now,
    };

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, connection);
        await cmd.ExecuteNonQueryAsync(ct);
    }
}

/// <summary>
/// A file of a workspace changed: each session working in it gets <c>file.written</c> (in one transaction, taking the
/// sessions' write turns in order), so their SSE streams show the change on every instance. Sent, outboxed, by the
/// transaction that changed the file.
/// </summary>
public static class FileWrittenHandler
{
    public static async Task Handle(FileWritten written, IDocumentSession documents, CancellationToken ct)
    {
        if (await documents.LoadAsync<Workspace>(written.WorkspaceId, ct) is not { } workspace) return;
        foreach (var sessionId in workspace.Sessions.Distinct().Order(StringComparer.Ordinal))
        {
            SessionStream.LockOnSave(documents, sessionId);
            documents.AppendSessionEvent(sessionId, new FileWrittenData(written.Path, written.Operation, written.SizeBytes, written.Created),
                EventContext.None);
        }
    }
}
