using Everruns.Contracts;
using Everruns.Infrastructure;
using Marten;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.StaticFiles;
using Wolverine;
using Wolverine.Marten;

namespace Everruns.Modules.Workspaces;

/// <summary>A file as the API shows it (the public <c>SessionFile</c>, with its <c>content_hash</c>); listings leave out the content.</summary>
public sealed record FileResponse(
    Guid Id, Guid SessionId, string Path, string Name, bool IsDirectory, bool IsReadonly, long SizeBytes, string? ContentHash,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, string? Content = null, string? Encoding = null)
{
    public static FileResponse From(WorkspaceEntry e, bool withContent = false)
    {
        var (content, encoding) = withContent && !e.IsDirectory ? WorkspaceText.Encode(e.Content ?? []) : ((string?)null, (string?)null);
        return new FileResponse(e.Id, Guid.ParseExact(e.WorkspaceId[(e.WorkspaceId.IndexOf('_') + 1)..], "N"), e.Path, e.Name, e.IsDirectory,
            e.IsReadonly, e.SizeBytes, e.ContentHash, e.CreatedAt, e.UpdatedAt, content, encoding);
    }
}

public sealed record FileStatResponse(string Path, string Name, bool IsDirectory, bool IsReadonly, long SizeBytes, string? ContentHash,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

public sealed record CreateFileRequest(string? Content, string? Encoding, bool? IsReadonly, bool? IsDirectory);

/// <summary>A full replace of the content and/or the read-only flag; <c>content_hash</c>, when given, must be the file's (else 409).</summary>
public sealed record UpdateFileRequest(string? Content, string? Encoding, bool? IsReadonly, string? ContentHash);

public sealed record MoveFileRequest(string? SrcPath, string? DstPath);

public sealed record StatRequest(string? Path);

public sealed record GrepRequest(string? Pattern, string? PathPattern);

public sealed record GrepMatch(string Path, int LineNumber, string Line);

public sealed record GrepResult(string Path, IReadOnlyList<GrepMatch> Matches);

public sealed record DeleteFileResponse(bool Deleted);

/// <summary>
/// The files of a workspace over HTTP, on <c>/v1/workspaces/{id}/fs/...</c> and on the session alias
/// <c>/v1/sessions/{id}/fs/...</c> (the session's workspace): list, read (JSON, or the raw bytes with
/// <c>Accept: application/octet-stream</c> and <c>_/download/...</c>), create, replace, delete, and the actions
/// <c>_/move</c>, <c>_/copy</c>, <c>_/stat</c>, <c>_/grep</c>. A change and its <c>file.written</c> message commit together.
/// </summary>
public static class FsEndpoints
{
    private static readonly FileExtensionContentTypeProvider ContentTypes = new();

    public static void Map(IEndpointRouteBuilder endpoints)
    {
        foreach (var (prefix, resolve) in new (string, Func<HttpContext, string, IDocumentSession, Task<(FileScope?, IResult?)>>)[]
                 {
                     ("/v1/workspaces/{id}/fs", ByWorkspace), ("/v1/sessions/{id}/fs", BySession), ("/v1/memories/{id}/fs", ByMemory),
                 })
        {
            var fs = endpoints.MapGroup(prefix).WithTags("files");
            fs.MapGet("", (string id, HttpContext http, IDocumentStore store, IWorkspaceFiles files) =>
                    ReadAsync(id, "/", http, store, files, resolve, raw: false))
                .Produces<DataList<FileResponse>>();
            fs.MapGet("{**path}", (string id, string path, HttpContext http, IDocumentStore store, IWorkspaceFiles files) =>
                    ReadAsync(id, path, http, store, files, resolve, raw: http.Request.Headers.Accept.ToString().Contains("application/octet-stream")))
                .Produces<FileResponse>().WithDescription("A file (content as text or base64), or a directory's listing; the raw bytes with Accept: application/octet-stream");
            fs.MapGet("_/download/{**path}", (string id, string path, HttpContext http, IDocumentStore store, IWorkspaceFiles files) =>
                    ReadAsync(id, path, http, store, files, resolve, raw: true))
                .Produces<byte[]>(contentType: "application/octet-stream");
            fs.MapPost("{**path}", (string id, string path, CreateFileRequest request, HttpContext http, IDocumentStore store,
                    IWorkspaceFiles files, IMartenOutbox outbox) => WriteAsync(id, path, http, store, files, outbox, resolve, async (c, org, ws) =>
                {
                    var directory = request.IsDirectory == true;
                    var content = directory ? null : WorkspaceText.Decode(request.Content ?? "", request.Encoding);
                    if (!directory && content is null) return BadEncoding();
                    var outcome = await files.WriteAsync(c, org, ws, path, content, WriteMode.Create, directory, request.IsReadonly ?? false, ct: http.RequestAborted);
                    return (outcome, "create");
                }, StatusCodes.Status201Created))
                .Produces<FileResponse>(StatusCodes.Status201Created);
            fs.MapPut("{**path}", (string id, string path, UpdateFileRequest request, HttpContext http, IDocumentStore store,
                    IWorkspaceFiles files, IMartenOutbox outbox) => WriteAsync(id, path, http, store, files, outbox, resolve, async (c, org, ws) =>
                {
                    byte[]? content = null;
                    if (request.Content is not null && (content = WorkspaceText.Decode(request.Content, request.Encoding)) is null) return BadEncoding();
                    var outcome = await files.WriteAsync(c, org, ws, path, content, WriteMode.Replace, false, request.IsReadonly, request.ContentHash,
                        http.RequestAborted);
                    return (outcome, "update");
                }, StatusCodes.Status200OK))
                .Produces<FileResponse>();
            fs.MapDelete("{**path}", (string id, string path, HttpContext http, IDocumentStore store, IWorkspaceFiles files, IMartenOutbox outbox) =>
                    WriteAsync(id, path, http, store, files, outbox, resolve, async (c, org, ws) =>
                        (await files.DeleteAsync(c, org, ws, path, http.Request.Query["recursive"] == "true", http.RequestAborted), "delete"),
                        StatusCodes.Status200OK, deleted: true))
                .Produces<DeleteFileResponse>();
            foreach (var (action, copy) in new[] { ("move", false), ("copy", true) })
                fs.MapPost($"_/{action}", (string id, MoveFileRequest request, HttpContext http, IDocumentStore store, IWorkspaceFiles files,
                        IMartenOutbox outbox) => WriteAsync(id, request.DstPath ?? "", http, store, files, outbox, resolve, async (c, org, ws) =>
                        request.SrcPath is null || request.DstPath is null
                            ? (FileOutcome.Refused(400, "invalid_path", "src_path and dst_path are required"), action)
                            : (await files.MoveAsync(c, org, ws, request.SrcPath, request.DstPath, copy, http.RequestAborted), action),
                        copy ? StatusCodes.Status201Created : StatusCodes.Status200OK))
                    .Produces<FileResponse>(copy ? StatusCodes.Status201Created : StatusCodes.Status200OK);
            fs.MapPost("_/stat", async (string id, StatRequest request, HttpContext http, IDocumentStore store, IWorkspaceFiles files) =>
                {
                    await using var documents = store.LightweightSession(http.Caller().Org);
                    var (workspace, missing) = await resolve(http, id, documents);
                    if (missing is not null) return missing;
                    var outcome = await files.StatAsync(documents.Connection, http.Caller().Org, workspace!, request.Path ?? "", http.RequestAborted);
                    return outcome.Ok
                        ? Results.Ok(new FileStatResponse(outcome.Entry!.Path, outcome.Entry.Name, outcome.Entry.IsDirectory, outcome.Entry.IsReadonly,
                            outcome.Entry.SizeBytes, outcome.Entry.ContentHash, outcome.Entry.CreatedAt, outcome.Entry.UpdatedAt))
                        : Problem(outcome);
                })
                .Produces<FileStatResponse>();
            fs.MapPost("_/grep", async (string id, GrepRequest request, HttpContext http, IDocumentStore store, IWorkspaceFiles files) =>
                {
                    if (string.IsNullOrEmpty(request.Pattern)) return Problems.Result(Problems.BadRequest("invalid_pattern", "pattern is required"));
                    await using var documents = store.LightweightSession(http.Caller().Org);
                    var (workspace, missing) = await resolve(http, id, documents);
                    if (missing is not null) return missing;
                    var outcome = await files.GrepAsync(documents.Connection, http.Caller().Org, workspace!, request.Pattern, request.PathPattern, http.RequestAborted);
                    return outcome.Ok
                        ? Results.Ok(new DataList<GrepResult>(outcome.Hits!.GroupBy(h => h.Path)
                            .Select(g => new GrepResult(g.Key, g.Select(h => new GrepMatch(h.Path, h.LineNumber, h.Line)).ToList())).ToList()))
                        : Problem(outcome);
                })
                .Produces<DataList<GrepResult>>();
        }
    }

    private static (FileOutcome, string) BadEncoding() =>
        (FileOutcome.Refused(400, "invalid_content", "content must be text, or base64 with \"encoding\":\"base64\""), "");

    public static IResult Problem(FileOutcome outcome) => Problems.Result(Problems.Create(outcome.Status, outcome.Code!, outcome.Message));

    private static async Task<(FileScope?, IResult?)> ByWorkspace(HttpContext http, string id, IDocumentSession documents) =>
        Ids.IsValid(id, Ids.Workspace) && await documents.LoadAsync<Workspace>(id, http.RequestAborted) is not null
            ? (id, null)
            : (null, Problems.Result(WorkspaceEndpoints.NotFound(id)));

    private static async Task<(FileScope?, IResult?)> ByMemory(HttpContext http, string id, IDocumentSession documents) =>
        Ids.IsValid(id, Ids.Memory) && await documents.LoadAsync<Memory>(id, http.RequestAborted) is not null
            ? (id, null)
            : (null, Problems.Result(MemoryEndpoints.NotFound(id)));

    private static async Task<(FileScope?, IResult?)> BySession(HttpContext http, string id, IDocumentSession documents)
    {
        var sessions = http.RequestServices.GetService(typeof(ISessionDirectory)) as ISessionDirectory;
        var found = await sessions!.FindAsync(http.Caller().Org, id, http.RequestAborted);
        if (found.Session is null) return (null, Problems.Result(Problems.NotFound("session_not_found", $"session {id} not found")));
        return found.Runtime?.WorkspaceId is { } workspace
            ? (new FileScope(workspace, MemoryMounts.From(found.Runtime.Capabilities)), null)
            : (null, Problems.Result(Problems.NotFound("workspace_not_found", $"session {id} has no workspace (it was opened before workspaces existed)")));
    }

    private static async Task<IResult> ReadAsync(string id, string path, HttpContext http, IDocumentStore store, IWorkspaceFiles files,
        Func<HttpContext, string, IDocumentSession, Task<(FileScope?, IResult?)>> resolve, bool raw)
    {
        var org = http.Caller().Org;
        await using var documents = store.LightweightSession(org);
        var (workspace, missing) = await resolve(http, id, documents);
        if (missing is not null) return missing;
        var stat = await files.StatAsync(documents.Connection, org, workspace!, path, http.RequestAborted);
        if (!stat.Ok) return Problem(stat);
        if (stat.Entry!.IsDirectory)
        {
            if (raw) return Problems.Result(Problems.BadRequest("is_a_directory", $"{stat.Entry.Path} is a directory: it cannot be downloaded"));
            var listed = await files.ListAsync(documents.Connection, org, workspace!, path, http.Request.Query["recursive"] == "true", http.RequestAborted);
            return listed.Ok ? Results.Ok(new DataList<FileResponse>(listed.Entries!.Select(e => FileResponse.From(e)).ToList())) : Problem(listed);
        }

        var read = await files.ReadAsync(documents.Connection, org, workspace!, path, http.RequestAborted);
        if (!read.Ok) return Problem(read);
        if (!raw) return Results.Ok(FileResponse.From(read.Entry!, withContent: true));
        var name = read.Entry!.Name;
        if (!ContentTypes.TryGetContentType(name, out var contentType))
            contentType = WorkspaceText.IsText(read.Entry.Content ?? []) ? "text/plain; charset=utf-8" : "application/octet-stream";
        http.Response.Headers.ContentDisposition = new System.Net.Mime.ContentDisposition { FileName = name, Inline = !http.Request.Path.Value!.Contains("/_/download/") }.ToString();
        return Results.Bytes(read.Entry.Content ?? [], contentType);
    }

    /// <summary>A change, in one transaction with its <c>file.written</c> message; a refusal writes nothing.</summary>
    private static async Task<IResult> WriteAsync(string id, string path, HttpContext http, IDocumentStore store, IWorkspaceFiles files,
        IMartenOutbox outbox, Func<HttpContext, string, IDocumentSession, Task<(FileScope?, IResult?)>> resolve,
        Func<Npgsql.NpgsqlConnection, string, FileScope, Task<(FileOutcome Outcome, string Operation)>> change, int status, bool deleted = false)
    {
        var org = http.Caller().Org;
        await using var documents = store.LightweightSession(org);
        var (workspace, missing) = await resolve(http, id, documents);
        if (missing is not null) return missing;
        await documents.BeginTransactionAsync(http.RequestAborted);
        var (outcome, operation) = await change(documents.Connection, org, workspace!);
        if (!outcome.Ok) return Problem(outcome); // nothing was written: the transaction ends unsaved

        outbox.Enroll(documents);
        var entry = outcome.Entry!;
        await outbox.PublishAsync(new FileWritten(workspace!.WorkspaceId, entry.Path, operation, entry.SizeBytes, outcome.Created),
            new DeliveryOptions { TenantId = org });
        await documents.SaveChangesAsync(http.RequestAborted);
        if (deleted) return Results.Ok(new DeleteFileResponse(true));
        var response = FileResponse.From(entry, withContent: entry.Content is not null);
        return status == StatusCodes.Status201Created ? Results.Created($"{http.Request.PathBase}{http.Request.Path}", response) : Results.Ok(response);
    }
}
