using Everruns.Contracts;
using Everruns.Infrastructure;
using Marten;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Wolverine.Http;

namespace Everruns.Modules.Workspaces;

/// <summary>
/// A workspace: a durable set of files that sessions work in (their <c>/workspace</c>). Each session gets a default one
/// (<see cref="SessionId"/> says whose) unless it names one that several share. Archived, its files are read-only.
/// </summary>
public sealed class Workspace : INamedArchivable
{
    public string Id { get; set; } = "";
    public string Name { get; set; } = "";
    public string? Description { get; set; }
    public string Status { get; set; } = WorkspaceStatus.Active;

    /// <summary>The session this workspace was made for (its default one), if it was.</summary>
    public string? SessionId { get; set; }

    /// <summary>The sessions working in it: those that get its <c>file.written</c> events.</summary>
    public List<string> Sessions { get; set; } = [];

    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
    public DateTimeOffset? ArchivedAt { get; set; }
}

public static class WorkspaceStatus
{
    public const string Active = "active";
    public const string Archived = "archived";
}

/// <summary>An org's named resource that DELETE archives (workspaces, memories): its files then read-only.</summary>
public interface INamedArchivable
{
    string Name { get; set; }
    string? Description { get; set; }
    string Status { get; set; }
    DateTimeOffset UpdatedAt { get; set; }
    DateTimeOffset? ArchivedAt { get; set; }
}

/// <summary>What workspaces and memories share: their names, and the way they are changed and archived.</summary>
public static class Archivable
{
    public const int MaxNameLength = 255;

    public static ProblemDetails? Name(string? name) =>
        string.IsNullOrWhiteSpace(name) || name.Trim().Length > MaxNameLength
            ? Problems.BadRequest("invalid_name", $"name is required, at most {MaxNameLength} characters")
            : null;

    public static ProblemDetails? Status(string? status) =>
        status is null or WorkspaceStatus.Active or WorkspaceStatus.Archived
            ? null
            : Problems.BadRequest("invalid_status", "status must be 'active' or 'archived'");

    /// <summary>A PATCH: the fields given change; archiving (or reviving) sets (or clears) <c>archived_at</c>.</summary>
    public static void Apply(INamedArchivable resource, string? name, string? description, string? status)
    {
        var now = DateTimeOffset.UtcNow;
        resource.Name = name ?? resource.Name;
        resource.Description = description ?? resource.Description;
        if (status is not null && status != resource.Status)
        {
            resource.Status = status;
            resource.ArchivedAt = status == WorkspaceStatus.Archived ? now : null;
        }

        resource.UpdatedAt = now;
    }

    /// <summary>A DELETE: archived (once).</summary>
    public static void Archive<T>(IDocumentSession documents, T resource) where T : class, INamedArchivable
    {
        if (resource.Status == WorkspaceStatus.Archived) return;
        Apply(resource, null, null, WorkspaceStatus.Archived);
        documents.Store(resource);
    }
}

/// <summary>The Workspace resource as the public API shows it.</summary>
public sealed record WorkspaceResponse(string Id, string Name, string? Description, string Status, string? SessionId,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, DateTimeOffset? ArchivedAt)
{
    public static WorkspaceResponse From(Workspace w) => new(w.Id, w.Name, w.Description, w.Status, w.SessionId, w.CreatedAt, w.UpdatedAt, w.ArchivedAt);
}

public sealed record CreateWorkspaceRequest(string? Name, string? Description);

public sealed record UpdateWorkspaceRequest(string? Name, string? Description, string? Status);

/// <summary>
/// GET/POST /v1/workspaces, GET/PATCH/DELETE /v1/workspaces/{id}: an org's workspaces, names unique per org (409 when
/// taken, however many requests race for it). DELETE archives: the files stay, read-only; PATCH status=active brings it back.
/// </summary>
public static class WorkspaceEndpoints
{
    public static ProblemDetails? Id(string id) =>
        Ids.IsValid(id, Ids.Workspace) ? null : Problems.NotFound("workspace_not_found", $"workspace {id} not found");

    public static ProblemDetails NotFound(string id) => Problems.NotFound("workspace_not_found", $"workspace {id} not found");

    [WolverineGet("/v1/workspaces"), ProducesResponseType<Page<WorkspaceResponse>>(StatusCodes.Status200OK)]
    public static async Task<IResult> List(IQuerySession documents, HttpRequest http)
    {
        var (paging, problem) = Query.Paging(http);
        if (problem is not null) return Problems.Result(problem);
        var search = http.Query["search"].ToString();
        var includeArchived = http.Query["include_archived"].ToString() == "true";
        var query = documents.Query<Workspace>().Where(w => includeArchived || w.Status == WorkspaceStatus.Active);
        if (search.Length > 0) query = query.Where(w => w.Name.Contains(search, StringComparison.OrdinalIgnoreCase));
        var total = await query.CountAsync(http.HttpContext.RequestAborted);
        var page = await query.OrderByDescending(w => w.CreatedAt).Skip(paging.Offset).Take(paging.Limit).ToListAsync(http.HttpContext.RequestAborted);
        return Results.Ok(Page<WorkspaceResponse>.Of(page.Select(WorkspaceResponse.From).ToList(), total, paging, http).AlsoAs("workspaces"));
    }

    [WolverinePost("/v1/workspaces"), Idempotent, ProducesResponseType<WorkspaceResponse>(StatusCodes.Status201Created)]
    public static async Task<IResult> Create(CreateWorkspaceRequest? request, IDocumentSession documents, HttpRequest http)
    {
        if (Archivable.Name(request?.Name) is { } invalid) return Problems.Result(invalid);
        var name = request!.Name!.Trim();
        if (await documents.Query<Workspace>().AnyAsync(w => w.Name == name, http.HttpContext.RequestAborted))
            return Problems.Result(Problems.Conflict("workspace_name_taken", $"a workspace is already named '{name}'"));
        var now = DateTimeOffset.UtcNow;
        var workspace = new Workspace { Id = Ids.New(Ids.Workspace), Name = name, Description = request.Description, CreatedAt = now, UpdatedAt = now };
        documents.Store(workspace);
        var response = WorkspaceResponse.From(workspace);
        var location = $"/v1/workspaces/{workspace.Id}";
        IdempotencyKeys.Record(http.HttpContext, documents, StatusCodes.Status201Created, location, response);
        return Results.Created(location, response);
    }

    [WolverineGet("/v1/workspaces/{id}"), ProducesResponseType<WorkspaceResponse>(StatusCodes.Status200OK)]
    public static async Task<IResult> Get(string id, IQuerySession documents, HttpContext http)
    {
        if (Id(id) is { } invalid) return Problems.Result(invalid);
        return await documents.LoadAsync<Workspace>(id, http.RequestAborted) is { } workspace
            ? Results.Ok(WorkspaceResponse.From(workspace))
            : Problems.Result(NotFound(id));
    }

    [WolverinePatch("/v1/workspaces/{id}"), ProducesResponseType<WorkspaceResponse>(StatusCodes.Status200OK)]
    public static async Task<IResult> Update(string id, UpdateWorkspaceRequest request, IDocumentSession documents, HttpContext http)
    {
        if (Id(id) is { } invalid) return Problems.Result(invalid);
        if (InputRules.First(request.Name is null ? null : Archivable.Name(request.Name), Archivable.Status(request.Status)) is { } invalidField)
            return Problems.Result(invalidField);
        if (await documents.LoadAsync<Workspace>(id, http.RequestAborted) is not { } workspace) return Problems.Result(NotFound(id));
        var name = request.Name?.Trim();
        if (name is not null && name != workspace.Name && await documents.Query<Workspace>().AnyAsync(w => w.Name == name, http.RequestAborted))
            return Problems.Result(Problems.Conflict("workspace_name_taken", $"a workspace is already named '{name}'"));
        Archivable.Apply(workspace, name, request.Description, request.Status);
        documents.Store(workspace);
        return Results.Ok(WorkspaceResponse.From(workspace));
    }

    [WolverineDelete("/v1/workspaces/{id}"), ProducesResponseType(StatusCodes.Status204NoContent)]
    public static async Task<IResult> Archive(string id, IDocumentSession documents, HttpContext http)
    {
        if (Id(id) is { } invalid) return Problems.Result(invalid);
        if (await documents.LoadAsync<Workspace>(id, http.RequestAborted) is not { } workspace) return Problems.Result(NotFound(id));
        Archivable.Archive(documents, workspace);
        return Results.NoContent();
    }
}
