using System.Text.Json.Nodes;
using Everruns.Contracts;
using Everruns.Infrastructure;
using Marten;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Wolverine.Http;

namespace Everruns.Modules.Workspaces;

/// <summary>
/// A memory: an org's named, durable set of files that sessions mount into theirs (the <c>memory</c> capability),
/// read-only unless a mount says readwrite. Its files live beside the workspaces' (the same table, under its id).
/// Archived, its files are read-only. Only manual memories (files written through the API or by agents) exist here.
/// </summary>
public sealed class Memory : INamedArchivable
{
    public string Id { get; set; } = "";
    public string Name { get; set; } = "";
    public string? Description { get; set; }
    public string Status { get; set; } = WorkspaceStatus.Active;
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
    public DateTimeOffset? ArchivedAt { get; set; }
}

/// <summary>The Memory resource as the public API shows it (a manual memory: nothing to sync).</summary>
public sealed record MemoryResponse(string Id, string Name, string? Description, string SourceType, JsonObject Source, bool IsReadonly,
    string SyncStatus, string Status, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, DateTimeOffset? ArchivedAt)
{
    public static MemoryResponse From(Memory m) => new(m.Id, m.Name, m.Description, "manual", new JsonObject { ["provider"] = "manual" },
        false, "idle", m.Status, m.CreatedAt, m.UpdatedAt, m.ArchivedAt);
}

/// <summary><paramref name="Source"/>: a git or GitHub source to sync from, which this server does not support (refused when set).</summary>
public sealed record CreateMemoryRequest(string? Name, string? Description, JsonNode? Source = null);

public sealed record UpdateMemoryRequest(string? Name, string? Description, JsonNode? Source = null, string? Status = null);

/// <summary>
/// GET/POST /v1/memories, GET/PATCH/DELETE /v1/memories/{id} (DELETE archives), POST /v1/memories/{id}/sync; the files on
/// /v1/memories/{id}/fs/... (<see cref="FsEndpoints"/>). Names are unique per org.
/// </summary>
public static class MemoryEndpoints
{
    public static ProblemDetails NotFound(string id) => Problems.NotFound("memory_not_found", $"memory {id} not found");

    [WolverineGet("/v1/memories"), ProducesResponseType<Page<MemoryResponse>>(StatusCodes.Status200OK)]
    public static async Task<IResult> List(IQuerySession documents, HttpRequest http)
    {
        var (paging, problem) = Query.Paging(http);
        if (problem is not null) return Problems.Result(problem);
        var search = http.Query["search"].ToString();
        var includeArchived = http.Query["include_archived"].ToString() == "true";
        var query = documents.Query<Memory>().Where(m => includeArchived || m.Status == WorkspaceStatus.Active);
        if (search.Length > 0) query = query.Where(m => m.Name.Contains(search, StringComparison.OrdinalIgnoreCase));
        var total = await query.CountAsync(http.HttpContext.RequestAborted);
        var page = await query.OrderByDescending(m => m.CreatedAt).Skip(paging.Offset).Take(paging.Limit).ToListAsync(http.HttpContext.RequestAborted);
        return Results.Ok(Page<MemoryResponse>.Of(page.Select(MemoryResponse.From).ToList(), total, paging, http).AlsoAs("memories"));
    }

    [WolverinePost("/v1/memories"), Idempotent, ProducesResponseType<MemoryResponse>(StatusCodes.Status201Created)]
    public static async Task<IResult> Create(CreateMemoryRequest? request, IDocumentSession documents, HttpRequest http)
    {
        if (Archivable.Name(request?.Name) is { } invalid) return Problems.Result(invalid);
        if (InputRules.Unsupported(("source", request!.Source)) is { } unsupported) return Problems.Result(unsupported);
        var name = request.Name!.Trim();
        if (await documents.Query<Memory>().AnyAsync(m => m.Name == name, http.HttpContext.RequestAborted))
            return Problems.Result(Problems.Conflict("memory_name_taken", $"a memory is already named '{name}'"));
        var now = DateTimeOffset.UtcNow;
        var memory = new Memory { Id = Ids.New(Ids.Memory), Name = name, Description = request.Description, CreatedAt = now, UpdatedAt = now };
        documents.Store(memory);
        var response = MemoryResponse.From(memory);
        var location = $"/v1/memories/{memory.Id}";
        IdempotencyKeys.Record(http.HttpContext, documents, StatusCodes.Status201Created, location, response);
        return Results.Created(location, response);
    }

    [WolverineGet("/v1/memories/{id}"), ProducesResponseType<MemoryResponse>(StatusCodes.Status200OK)]
    public static async Task<IResult> Get(string id, IQuerySession documents, HttpContext http) =>
        Ids.IsValid(id, Ids.Memory) && await documents.LoadAsync<Memory>(id, http.RequestAborted) is { } memory
            ? Results.Ok(MemoryResponse.From(memory))
            : Problems.Result(NotFound(id));

    [WolverinePatch("/v1/memories/{id}"), ProducesResponseType<MemoryResponse>(StatusCodes.Status200OK)]
    public static async Task<IResult> Update(string id, UpdateMemoryRequest request, IDocumentSession documents, HttpContext http)
    {
        if (InputRules.First(request.Name is null ? null : Archivable.Name(request.Name), Archivable.Status(request.Status),
                InputRules.Unsupported(("source", request.Source))) is { } invalidField) return Problems.Result(invalidField);
        if (!Ids.IsValid(id, Ids.Memory) || await documents.LoadAsync<Memory>(id, http.RequestAborted) is not { } memory) return Problems.Result(NotFound(id));
        var name = request.Name?.Trim();
        if (name is not null && name != memory.Name && await documents.Query<Memory>().AnyAsync(m => m.Name == name, http.RequestAborted))
            return Problems.Result(Problems.Conflict("memory_name_taken", $"a memory is already named '{name}'"));
        Archivable.Apply(memory, name, request.Description, request.Status);
        documents.Store(memory);
        return Results.Ok(MemoryResponse.From(memory));
    }

    [WolverineDelete("/v1/memories/{id}"), ProducesResponseType(StatusCodes.Status204NoContent)]
    public static async Task<IResult> Archive(string id, IDocumentSession documents, HttpContext http)
    {
        if (!Ids.IsValid(id, Ids.Memory) || await documents.LoadAsync<Memory>(id, http.RequestAborted) is not { } memory) return Problems.Result(NotFound(id));
        Archivable.Archive(documents, memory);
        return Results.NoContent();
    }

    /// <summary>A manual memory has no source: syncing it changes nothing, and says so by its unchanged <c>sync_status</c>.</summary>
    [WolverinePost("/v1/memories/{id}/sync"), ProducesResponseType<MemoryResponse>(StatusCodes.Status200OK)]
    public static Task<IResult> Sync(string id, IQuerySession documents, HttpContext http) => Get(id, documents, http);
}
