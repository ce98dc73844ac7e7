using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Everruns.Contracts;
using Everruns.Infrastructure;
using Npgsql;
using NpgsqlTypes;

namespace Everruns.Modules.Workspaces;

/// <summary>WORKSPACE_FILE_SINGLE_MAX_BYTES (one file) and WORKSPACE_FILE_MAX_BYTES (a workspace's files together).</summary>
public sealed record WorkspaceQuotas(long SingleFileMaxBytes, long WorkspaceMaxBytes);

/// <summary>
/// The files of workspaces: one row per file or directory in <c>everruns.workspace_files</c> (the root is implicit), the
/// content a <c>bytea</c> that listings never read. Writes take the workspace's transaction-scoped advisory lock first,
/// so that the checks (read-only, quotas, expected hash) and the write are one step for every writer, on any instance.
/// </summary>
public sealed class FileStore(WorkspaceQuotas quotas) : IWorkspaceFiles
{
    private const int LockClass = 0x57535046; // "WSPF"

    private const string Columns = "id, workspace_id, path, is_directory, is_readonly, size_bytes, content_hash, created_at, updated_at";

    public static string Hash(byte[] content) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(content));

    public async Task<FileOutcome> ReadAsync(NpgsqlConnection connection, string orgId, FileScope scope, string path, CancellationToken ct)
    {
        if (WorkspacePaths.Normalize(path) is not { } p) return InvalidPath(path);
        var (store, inner, mount) = scope.Resolve(p);
        if (inner == "/") return FileOutcome.Refused(400, "is_a_directory", $"{p} is a directory: list it instead");
        var entry = await FindAsync(connection, orgId, store, inner, withContent: true, ct);
        if (entry is null) return NotFound(p);
        return entry.IsDirectory ? FileOutcome.Refused(400, "is_a_directory", $"{p} is a directory: list it instead") : FileOutcome.Done(Outer(entry, mount));
    }

    public async Task<FileOutcome> StatAsync(NpgsqlConnection connection, string orgId, FileScope scope, string path, CancellationToken ct)
    {
        if (WorkspacePaths.Normalize(path) is not { } p) return InvalidPath(path);
        var (store, inner, mount) = scope.Resolve(p);
        if (inner == "/") return FileOutcome.Done(Root(store, p, mount));
        return await FindAsync(connection, orgId, store, inner, withContent: false, ct) is { } entry ? FileOutcome.Done(Outer(entry, mount)) : NotFound(p);
    }

    public async Task<FileOutcome> ListAsync(NpgsqlConnection connection, string orgId, FileScope scope, string path, bool recursive,
        CancellationToken ct)
    {
        if (WorkspacePaths.Normalize(path) is not { } p) return InvalidPath(path);
        var (store, inner, mount) = scope.Resolve(p);
        if (inner != "/")
        {
            var dir = await FindAsync(connection, orgId, store, inner, withContent: false, ct);
            if (dir is null) return NotFound(p);
            if (!dir.IsDirectory) return FileOutcome.Refused(400, "not_a_directory", $"{p} is a file, not a directory");
        }

        var prefix = inner == "/" ? "/" : inner + "/";
        await using var cmd = new NpgsqlCommand($"""
            select {Columns} from everruns.workspace_files
            where tenant_id = @org and workspace_id = @ws and starts_with(path, @prefix)
              and (@recursive or strpos(substr(path, length(@prefix) + 1), '/') = 0)
            order by is_directory desc, path
            limit 10000
            """, connection);
        Parameters(cmd, orgId, store).AddWithValue("prefix", prefix);
        cmd.Parameters.AddWithValue("recursive", recursive);
        var entries = (await ReadEntriesAsync(cmd, false, ct)).Select(e => Outer(e, mount)).ToList();
        // The memories mounted here show as directories.
        if (mount is null)
        {
            var outer = p == "/" ? "/" : p + "/";
            entries.InsertRange(0, scope.Mounts
                .Where(m => m.Path.StartsWith(outer, StringComparison.Ordinal) && (recursive || !m.Path[outer.Length..].Contains('/')))
                .Select(m => Root(m.MemoryId, m.Path, m)));
        }

        return new FileOutcome(200, null, "ok", Entries: entries);
    }

    public async Task<FileOutcome> WriteAsync(NpgsqlConnection connection, string orgId, FileScope scope, string path, byte[]? content,
        WriteMode mode, bool directory = false, bool? readonlyFlag = null, string? expectedHash = null, CancellationToken ct = default)
    {
        if (WorkspacePaths.Normalize(path) is not { } p || p == "/" || WorkspacePaths.Reserved(p)) return InvalidPath(path, write: true);
        var (store, inner, mount) = scope.Resolve(p);
        if (mount is { Writable: false }) return MountReadOnly(mount);
        if (inner == "/") return FileOutcome.Refused(400, "is_a_directory", $"{p} is a mounted memory");
        if (await LockWritableAsync(connection, orgId, store, ct) is { } archived) return archived;
        var existing = await FindAsync(connection, orgId, store, inner, withContent: false, ct);
        if (mode == WriteMode.Create && existing is not null) return FileOutcome.Refused(409, "file_exists", $"{p} already exists");
        if (mode == WriteMode.Replace && existing is null) return NotFound(p);
        if (existing is { IsDirectory: true } && !directory)
            return FileOutcome.Refused(400, "is_a_directory", $"{p} is a directory");
        if (existing is { IsDirectory: false } && directory)
            return FileOutcome.Refused(409, "file_exists", $"a file exists at {p}");
        if (expectedHash is not null && existing?.ContentHash != expectedHash)
            return FileOutcome.Refused(409, "stale_content_hash",
                $"{p} changed since it was read: expected {expectedHash}, found {existing?.ContentHash ?? "no file"}; read it again");

        var now = DateTimeOffset.UtcNow;
        if (existing is not null && content is null && !directory)
        {
            // Only the read-only flag changes (allowed on a read-only file: that is how it is made writable again).
            if (readonlyFlag is not { } flag) return FileOutcome.Done(Outer(existing, mount));
            await ExecuteAsync(connection, "update everruns.workspace_files set is_readonly = @flag, updated_at = @now where tenant_id = @org and workspace_id = @ws and path = @path",
                orgId, store, c => c.Parameters.AddWithValue("flag", flag), c => c.Parameters.AddWithValue("now", now), c => c.Parameters.AddWithValue("path", inner));
            return FileOutcome.Done(Outer(existing with { IsReadonly = flag, UpdatedAt = now }, mount));
        }

        if (existing is { IsReadonly: true }) return ReadOnly(p);
        if (existing is { IsDirectory: true }) return FileOutcome.Done(Outer(existing, mount)); // a directory that is there already
        content ??= [];
        if (!directory && content.LongLength > quotas.SingleFileMaxBytes)
            return FileOutcome.Refused(413, "file_too_large",
                $"{p} would be {content.LongLength} bytes; a file is at most {quotas.SingleFileMaxBytes} bytes (WORKSPACE_FILE_SINGLE_MAX_BYTES)");
        if (!directory && await UsedBytesAsync(connection, orgId, store, ct) - (existing?.SizeBytes ?? 0) + content.LongLength > quotas.WorkspaceMaxBytes)
            return FileOutcome.Refused(422, "workspace_quota_exceeded",
                $"writing {p} would take the workspace past {quotas.WorkspaceMaxBytes} bytes (WORKSPACE_FILE_MAX_BYTES); delete files first");
        if (await EnsureParentsAsync(connection, orgId, store, inner, now, ct) is { } parentProblem) return parentProblem;

        var hash = directory ? null : Hash(content);
        var entry = new WorkspaceEntry(existing?.Id ?? Guid.CreateVersion7(), store, inner, directory, readonlyFlag ?? existing?.IsReadonly ?? false,
            directory ? 0 : content.LongLength, hash, existing?.CreatedAt ?? now, now, directory ? null : content);
        await UpsertAsync(connection, orgId, entry, ct);
        return FileOutcome.Done(Outer(entry, mount), created: existing is null, previousHash: existing?.ContentHash);
    }

    public async Task<FileOutcome> DeleteAsync(NpgsqlConnection connection, string orgId, FileScope scope, string path, bool recursive,
        CancellationToken ct)
    {
        if (WorkspacePaths.Normalize(path) is not { } p) return InvalidPath(path);
        if (p == "/") return FileOutcome.Refused(400, "invalid_path", "the root directory cannot be deleted");
        var (store, inner, mount) = scope.Resolve(p);
        if (mount is { Writable: false }) return MountReadOnly(mount);
        if (inner == "/") return FileOutcome.Refused(400, "invalid_path", $"{p} is where a memory is mounted: it cannot be deleted");
        if (await LockWritableAsync(connection, orgId, store, ct) is { } archived) return archived;
        var existing = await FindAsync(connection, orgId, store, inner, withContent: false, ct);
        if (existing is null) return NotFound(p);
        if (existing.IsReadonly) return ReadOnly(p);
        if (existing.IsDirectory)
        {
            await using var inside = new NpgsqlCommand("""
                select count(*), count(*) filter (where is_readonly) from everruns.workspace_files
                where tenant_id = @org and workspace_id = @ws and starts_with(path, @prefix)
                """, connection);
            Parameters(inside, orgId, store).AddWithValue("prefix", inner + "/");
            await using var reader = await inside.ExecuteReaderAsync(ct);
            await reader.ReadAsync(ct);
            var (count, readOnly) = (reader.GetInt64(0), reader.GetInt64(1));
            await reader.CloseAsync();
            if (count > 0 && !recursive)
                return FileOutcome.Refused(400, "directory_not_empty", $"{p} is not empty: delete it with recursive=true");
            if (readOnly > 0) return FileOutcome.Refused(403, "file_readonly", $"{p} holds read-only files: nothing was deleted");
        }

        await ExecuteAsync(connection, "delete from everruns.workspace_files where tenant_id = @org and workspace_id = @ws and (path = @path or starts_with(path, @prefix))",
            orgId, store, c => c.Parameters.AddWithValue("path", inner), c => c.Parameters.AddWithValue("prefix", inner + "/"));
        return FileOutcome.Done(Outer(existing, mount));
    }

    public async Task<FileOutcome> MoveAsync(NpgsqlConnection connection, string orgId, FileScope scope, string from, string to, bool copy,
        CancellationToken ct)
    {
        if (WorkspacePaths.Normalize(from) is not { } srcPath || srcPath == "/") return InvalidPath(from);
        if (WorkspacePaths.Normalize(to) is not { } dstPath || dstPath == "/" || WorkspacePaths.Reserved(dstPath)) return InvalidPath(to, write: true);
        var (store, src, srcMount) = scope.Resolve(srcPath);
        var (dstStore, dst, dstMount) = scope.Resolve(dstPath);
        if (dstStore != store)
            return FileOutcome.Refused(400, "invalid_path", "a file cannot move or be copied between the workspace and a mounted memory: write it there");
        if (dstMount is { Writable: false }) return MountReadOnly(dstMount);
        if (!copy && srcMount is { Writable: false }) return MountReadOnly(srcMount);
        if (src == "/" || dst == "/") return FileOutcome.Refused(400, "invalid_path", "a memory's mount point cannot move");
        if (await LockWritableAsync(connection, orgId, store, ct) is { } archived) return archived;
        var source = await FindAsync(connection, orgId, store, src, withContent: true, ct);
        if (source is null) return NotFound(srcPath);
        if (await FindAsync(connection, orgId, store, dst, withContent: false, ct) is not null)
            return FileOutcome.Refused(409, "file_exists", $"{dstPath} already exists");
        if (source.IsDirectory)
        {
            if (copy) return FileOutcome.Refused(400, "is_a_directory", "directories cannot be copied; copy their files");
            if (dst.StartsWith(src + "/", StringComparison.Ordinal)) return FileOutcome.Refused(400, "invalid_path", "a directory cannot move into itself");
        }

        if (!copy && source.IsReadonly) return ReadOnly(srcPath);
        if (copy && await UsedBytesAsync(connection, orgId, store, ct) + source.SizeBytes > quotas.WorkspaceMaxBytes)
            return FileOutcome.Refused(422, "workspace_quota_exceeded", $"copying {srcPath} would take the workspace past {quotas.WorkspaceMaxBytes} bytes");
        var now = DateTimeOffset.UtcNow;
        if (await EnsureParentsAsync(connection, orgId, store, dst, now, ct) is { } parentProblem) return parentProblem;

        if (copy)
        {
            var copied = source with { Id = Guid.CreateVersion7(), Path = dst, IsReadonly = false, CreatedAt = now, UpdatedAt = now };
            await UpsertAsync(connection, orgId, copied, ct);
            return FileOutcome.Done(Outer(copied with { Content = null }, dstMount), created: true);
        }

        if (source.IsDirectory)
        {
            await using var readOnly = new NpgsqlCommand("""
                select count(*) from everruns.workspace_files where tenant_id = @org and workspace_id = @ws and starts_with(path, @prefix) and is_readonly
                """, connection);
            Parameters(readOnly, orgId, store).AddWithValue("prefix", src + "/");
            if ((long)(await readOnly.ExecuteScalarAsync(ct))! > 0) return FileOutcome.Refused(403, "file_readonly", $"{srcPath} holds read-only files: nothing was moved");
        }

        await ExecuteAsync(connection, """
            update everruns.workspace_files set path = @dst || substr(path, length(@src) + 1), updated_at = @now
            where tenant_id = @org and workspace_id = @ws and (path = @src or starts_with(path, @prefix))
            """, orgId, store, c => c.Parameters.AddWithValue("dst", dst), c => c.Parameters.AddWithValue("src", src),
            c => c.Parameters.AddWithValue("prefix", src + "/"), c => c.Parameters.AddWithValue("now", now));
        return FileOutcome.Done(Outer(source with { Path = dst, UpdatedAt = now, Content = null }, dstMount));
    }

    public async Task<FileOutcome> GrepAsync(NpgsqlConnection connection, string orgId, FileScope scope, string pattern, string? pathPattern,
        CancellationToken ct)
    {
        Regex regex, paths;
        try
        {
            regex = new Regex(pattern, RegexOptions.None, TimeSpan.FromSeconds(1));
            paths = new Regex(pathPattern is { Length: > 0 } ? GlobOrRegex(pathPattern) : "", RegexOptions.None, TimeSpan.FromSeconds(1));
        }
        catch (ArgumentException e)
        {
            return FileOutcome.Refused(400, "invalid_pattern", $"invalid pattern: {e.Message}");
        }

        // The workspace's files, then each mounted memory's, under their mount paths.
        var hits = new List<GrepHit>();
        foreach (var (store, mount) in new[] { (scope.WorkspaceId, (MemoryMount?)null) }.Concat(scope.Mounts.Select(m => (m.MemoryId, (MemoryMount?)m))))
        {
            await using var cmd = new NpgsqlCommand("""
                select path, content from everruns.workspace_files
                where tenant_id = @org and workspace_id = @ws and not is_directory and size_bytes <= 1048576
                order by path
                """, connection);
            Parameters(cmd, orgId, store);
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct) && hits.Count < 1000)
            {
                var path = mount is null ? reader.GetString(0) : mount.Path + reader.GetString(0);
                if (!paths.IsMatch(path)) continue;
                var bytes = (byte[])reader[1];
                if (!WorkspaceText.IsText(bytes)) continue;
                var lines = Encoding.UTF8.GetString(bytes).Split('\n');
                for (var i = 0; i < lines.Length && hits.Count < 1000; i++)
                    if (regex.IsMatch(lines[i])) hits.Add(new GrepHit(path, i + 1, lines[i].TrimEnd('\r')));
            }
        }

        return new FileOutcome(200, null, "ok", Hits: hits);
    }

    /// <summary>An entry of a mounted memory as the session sees it: under the mount's path.</summary>
    private static WorkspaceEntry Outer(WorkspaceEntry entry, MemoryMount? mount) =>
        mount is null ? entry : entry with { Path = entry.Path == "/" ? mount.Path : mount.Path + entry.Path };

    private static FileOutcome MountReadOnly(MemoryMount mount) =>
        FileOutcome.Refused(403, "memory_readonly", $"{mount.Path} is memory {mount.MemoryId}, mounted read-only");

    /// <summary>A glob (<c>*.md</c>, <c>docs/**</c>) as a regex over whole paths; anything else taken as a regex.</summary>
    private static string GlobOrRegex(string pattern)
    {
        if (pattern.IndexOfAny(['^', '$', '(', '[', '\\', '+', '|']) >= 0) return pattern;
        var regex = Regex.Escape(pattern).Replace(@"\*\*", "\u0001").Replace(@"\*", "[^/]*").Replace("\u0001", ".*").Replace(@"\?", "[^/]");
        return "(^|/)" + regex + "$";
    }

    private static WorkspaceEntry Root(string store, string path = "/", MemoryMount? mount = null) =>
        new(Guid.Empty, store, path, true, mount is { Writable: false }, 0, null, DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch);

    private static FileOutcome NotFound(string path) => FileOutcome.Refused(404, "file_not_found", $"{path} not found");

    private static FileOutcome ReadOnly(string path) => FileOutcome.Refused(403, "file_readonly", $"{path} is read-only");

    private static FileOutcome InvalidPath(string path, bool write = false) => FileOutcome.Refused(400, "invalid_path",
        $"'{path}' is not a valid path: absolute (/dir/file.txt), no '..' segment, no '//', no NUL{(write ? ", not the root, not under a reserved '_' folder" : "")}");

    private static NpgsqlParameterCollection Parameters(NpgsqlCommand cmd, string orgId, string workspaceId)
    {
        cmd.Parameters.AddWithValue("org", orgId);
        cmd.Parameters.AddWithValue("ws", workspaceId);
        return cmd.Parameters;
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, string orgId, string workspaceId, params Action<NpgsqlCommand>[] parameters)
    {
        await using var cmd = new NpgsqlCommand(sql, connection);
        Parameters(cmd, orgId, workspaceId);
        foreach (var add in parameters) add(cmd);
        await cmd.ExecuteNonQueryAsync();
    }

    /// <summary>Takes the workspace's lock for the rest of the transaction; refused when the workspace is archived.</summary>
    private static async Task<FileOutcome?> LockWritableAsync(NpgsqlConnection connection, string orgId, string workspaceId, CancellationToken ct)
    {
        // A workspace's, or a memory's (the same table holds the files of both).
        var table = workspaceId.StartsWith(Ids.Memory + "_", StringComparison.Ordinal) ? "mt_doc_memory" : "mt_doc_workspace";
        await using var cmd = new NpgsqlCommand($"""
            select pg_advisory_xact_lock(@class, hashtext(@ws));
            select data->>'status' from everruns.{table} where id = @ws and tenant_id = @org;
            """, connection);
        Parameters(cmd, orgId, workspaceId).AddWithValue("class", LockClass);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        await reader.NextResultAsync(ct);
        // No row: a workspace made in this very transaction (a new session's, with its initial files).
        var status = await reader.ReadAsync(ct) ? reader.GetString(0) : "active";
        return status == "active" ? null : table == "mt_doc_memory"
            ? FileOutcome.Refused(403, "memory_archived", $"memory {workspaceId} is archived: its files are read-only")
            : FileOutcome.Refused(403, "workspace_archived", $"workspace {workspaceId} is archived: its files are read-only");
    }

    private static async Task<long> UsedBytesAsync(NpgsqlConnection connection, string orgId, string workspaceId, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(
            "select coalesce(sum(size_bytes), 0)::bigint from everruns.workspace_files where tenant_id = @org and workspace_id = @ws", connection);
        Parameters(cmd, orgId, workspaceId);
        return (long)(await cmd.ExecuteScalarAsync(ct))!;
    }

    /// <summary>Makes the missing directories above <paramref name="path"/>; refused when one of them is a file or read-only.</summary>
    private static async Task<FileOutcome?> EnsureParentsAsync(NpgsqlConnection connection, string orgId, string workspaceId, string path,
        DateTimeOffset now, CancellationToken ct)
    {
        var parents = WorkspacePaths.Parents(path);
        if (parents.Count == 0) return null;
        await using var cmd = new NpgsqlCommand("""
            select path, is_directory, is_readonly from everruns.workspace_files
            where tenant_id = @org and workspace_id = @ws and path = any(@paths)
            """, connection);
        Parameters(cmd, orgId, workspaceId).AddWithValue("paths", parents.ToArray());
        var found = new Dictionary<string, (bool Directory, bool ReadOnly)>();
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
            while (await reader.ReadAsync(ct))
                found[reader.GetString(0)] = (reader.GetBoolean(1), reader.GetBoolean(2));
        foreach (var parent in parents)
        {
            if (found.TryGetValue(parent, out var f) && !f.Directory) return FileOutcome.Refused(409, "file_exists", $"{parent} is a file, not a directory");
            if (f.ReadOnly) return FileOutcome.Refused(403, "file_readonly", $"{parent} is read-only: nothing can be created under it");
        }

        foreach (var parent in parents.Where(p => !found.ContainsKey(p)))
            await UpsertAsync(connection, orgId, new WorkspaceEntry(Guid.CreateVersion7(), workspaceId, parent, true, false, 0, null, now, now), ct);
        return null;
    }

    private static async Task UpsertAsync(NpgsqlConnection connection, string orgId, WorkspaceEntry entry, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("""
            insert into everruns.workspace_files (tenant_id, id, workspace_id, path, is_directory, is_readonly, size_bytes, content_hash, content, created_at, updated_at)
            values (@org, @id, @ws, @path, @dir, @ro, @size, @hash, @content, @created, @updated)
            on conflict (tenant_id, workspace_id, path) do update set
              is_directory = excluded.is_directory, is_readonly = excluded.is_readonly, size_bytes = excluded.size_bytes,
              content_hash = excluded.content_hash, content = excluded.content, updated_at = excluded.updated_at
            """, connection);
        Parameters(cmd, orgId, entry.WorkspaceId);
        cmd.Parameters.AddWithValue("id", entry.Id);
        cmd.Parameters.AddWithValue("path", entry.Path);
        cmd.Parameters.AddWithValue("dir", entry.IsDirectory);
        cmd.Parameters.AddWithValue("ro", entry.IsReadonly);
        cmd.Parameters.AddWithValue("size", entry.SizeBytes);
        cmd.Parameters.Add(new NpgsqlParameter("hash", NpgsqlDbType.Text) { Value = (object?)entry.ContentHash ?? DBNull.Value });
        cmd.Parameters.Add(new NpgsqlParameter("content", NpgsqlDbType.Bytea) { Value = (object?)entry.Content ?? DBNull.Value });
        cmd.Parameters.AddWithValue("created", entry.CreatedAt);
        cmd.Parameters.AddWithValue("updated", entry.UpdatedAt);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    private static async Task<WorkspaceEntry?> FindAsync(NpgsqlConnection connection, string orgId, string workspaceId, string path, bool withContent,
        CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(
            $"select {Columns}{(withContent ? ", content" : "")} from everruns.workspace_files where tenant_id = @org and workspace_id = @ws and path = @path",
            connection);
        Parameters(cmd, orgId, workspaceId).AddWithValue("path", path);
        return (await ReadEntriesAsync(cmd, withContent, ct)).FirstOrDefault();
    }

    private static async Task<List<WorkspaceEntry>> ReadEntriesAsync(NpgsqlCommand cmd, bool withContent, CancellationToken ct)
    {
        var entries = new List<WorkspaceEntry>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
            entries.Add(new WorkspaceEntry(reader.GetGuid(0), reader.GetString(1), reader.GetString(2), reader.GetBoolean(3), reader.GetBoolean(4),
                reader.GetInt64(5), reader.IsDBNull(6) ? null : reader.GetString(6), reader.GetFieldValue<DateTimeOffset>(7),
                reader.GetFieldValue<DateTimeOffset>(8), withContent && !reader.IsDBNull(9) ? (byte[])reader[9] : null));
        return entries;
    }
}

/// <summary>Paths of a workspace: absolute, normalized (<c>/workspace</c>, as the agent sees its files, stripped).</summary>
public static class WorkspacePaths
{
    public const string MountPoint = "/workspace";

    /// <summary>The path as stored (<c>/a/b.txt</c>), or null when it may not be one: <c>..</c>, <c>//</c>, NUL, too long.</summary>
    public static string? Normalize(string? raw)
    {
        if (raw is null || raw.Length > 1024 || raw.Contains('\0') || raw.Contains('\\')) return null;
        var path = raw.StartsWith('/') ? raw : "/" + raw;
        if (path == MountPoint || path == MountPoint + "/") return "/";
        if (path.StartsWith(MountPoint + "/", StringComparison.Ordinal)) path = path[MountPoint.Length..];
        if (path.Length > 1 && path.EndsWith('/')) path = path[..^1];
        if (path == "/") return path;
        if (path.Contains("//", StringComparison.Ordinal)) return null;
        var segments = path[1..].Split('/');
        return segments.Any(s => s is "" or "." or "..") ? null : path;
    }

    /// <summary>A path under a top-level folder starting with '_' (the routes' actions live there).</summary>
    public static bool Reserved(string path) => path.Length > 1 && path[1] == '_';

    /// <summary>The directories above a path, outermost first (<c>/a</c>, <c>/a/b</c> for <c>/a/b/c.txt</c>).</summary>
    public static List<string> Parents(string path)
    {
        var parents = new List<string>();
        for (var i = path.IndexOf('/', 1); i > 0; i = path.IndexOf('/', i + 1)) parents.Add(path[..i]);
        return parents;
    }
}
