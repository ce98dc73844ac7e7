using System.Text.Json.Nodes;
using Everruns.Contracts;
using Everruns.Infrastructure;
using Marten;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Wolverine;
using Wolverine.Http;

namespace Everruns.Modules.Harnesses;

public sealed record CreateHarnessRequest(
    string? Name,
    string? DisplayName,
    string? Description,
    string? SystemPrompt,
    string? DefaultModelId,
    string? ParentHarnessId,
    List<CapabilityRef?>? Capabilities,
    List<InitialFile?>? InitialFiles,
    List<string?>? Tags,
    [property: System.Text.Json.Serialization.JsonPropertyName("mcpServers")] JsonNode? McpServers = null,
    JsonNode? NetworkAccess = null,
    JsonNode? EmbedderMetadata = null);

public sealed record UpdateHarnessRequest(
    string? Name,
    string? DisplayName,
    string? Description,
    string? SystemPrompt,
    string? DefaultModelId,
    string? ParentHarnessId,
    List<CapabilityRef?>? Capabilities,
    List<InitialFile?>? InitialFiles,
    List<string?>? Tags,
    string? Status,
    [property: System.Text.Json.Serialization.JsonPropertyName("mcpServers")] JsonNode? McpServers = null,
    JsonNode? NetworkAccess = null,
    JsonNode? EmbedderMetadata = null);

public sealed record PreviewHarnessRequest(string? SystemPrompt, string? ParentHarnessId, List<CapabilityRef?>? Capabilities,
    [property: System.Text.Json.Serialization.JsonPropertyName("mcpServers")] JsonNode? McpServers = null);

public sealed record PreviewTool(string Name, string Capability);

public sealed record HarnessPreviewResponse(string SystemPrompt, IReadOnlyList<PreviewTool> Tools);

public sealed record HarnessExampleResponse(string Name, string DisplayName, string Description, IReadOnlyList<string> Tags,
    IReadOnlyList<CapabilityRef> Capabilities, bool DevOnly, string? ParentName);

/// <summary>
/// /v1/harnesses: an org's harnesses and the built-in <c>generic</c>. A harness contributes a system prompt (before its
/// agents'), capabilities and initial files (under theirs) and a default model (after theirs). The built-in one is
/// read-only; one that active agents run on (or the org's default) cannot be deleted, only archived.
/// </summary>
public static class HarnessEndpoints
{
    internal static ProblemDetails? Shape(string? name, string? parent, List<CapabilityRef?>? capabilities, List<InitialFile?>? files,
        List<string?>? tags, JsonNode? mcp, JsonNode? network, JsonNode? embedder) =>
        InputRules.First(
            name is null ? null : Slugs.Check(name),
            name == BuiltInHarness.Name ? Problems.Conflict("harness_name_taken", "'generic' is the built-in harness's name") : null,
            parent is null || parent == BuiltInHarness.Id || parent == BuiltInHarness.Name
                ? null
                : Problems.BadRequest("unsupported_field", "parent_harness_id: a harness derives from the built-in 'generic' only on this server"),
            InputRules.Capabilities(capabilities),
            InputRules.InitialFiles(files),
            InputRules.Tags(tags),
            InputRules.Unsupported(("mcpServers", mcp), ("network_access", network), ("embedder_metadata", embedder)));

    [WolverineGet("/v1/harnesses"), ProducesResponseType<DataList<HarnessResponse>>(StatusCodes.Status200OK)]
    public static async Task<IResult> List(IQuerySession documents, ISessionStats stats, HttpRequest http)
    {
        var (includeArchived, problem) = Query.Bool(http, "include_archived");
        if (problem is not null) return Problems.Result(problem);
        var search = http.Query["search"].ToString();
        var org = http.Caller().Org;
        var ct = http.HttpContext.RequestAborted;

        IQueryable<Harness> query = documents.Query<Harness>();
        if (includeArchived != true) query = query.Where(h => h.Status == HarnessSnapshot.Active);
        var stored = await query.OrderBy(h => h.Name).ToListAsync(ct);
        var all = new List<Harness> { GenericHarness.For(org) };
        all.AddRange(stored);
        if (!string.IsNullOrWhiteSpace(search))
            all = all.Where(h => h.Name.Contains(search, StringComparison.OrdinalIgnoreCase)
                                 || h.DisplayName?.Contains(search, StringComparison.OrdinalIgnoreCase) == true
                                 || h.Description?.Contains(search, StringComparison.OrdinalIgnoreCase) == true).ToList();
        var data = new List<HarnessResponse>();
        foreach (var harness in all) data.Add(HarnessResponse.From(harness, await stats.CountOnHarnessAsync(org, harness.Id, ct), http));
        return Results.Ok(new DataList<HarnessResponse>(data));
    }

    /// <summary>By id, by name, or <c>default</c>: the org's default harness.</summary>
    [WolverineGet("/v1/harnesses/{id}"), ProducesResponseType<HarnessResponse>(StatusCodes.Status200OK)]
    public static async Task<IResult> Get(string id, IQuerySession documents, ISessionStats stats, IOrgDefaults orgDefaults, HttpRequest http)
    {
        var org = http.Caller().Org;
        var ct = http.HttpContext.RequestAborted;
        if (id == "default") id = await orgDefaults.HarnessAsync(org, ct) ?? BuiltInHarness.Id;
        var harness = await FindAsync(documents, org, id, ct);
        return harness is null
            ? Problems.Result(NotFound(id))
            : Results.Ok(HarnessResponse.From(harness, await stats.CountOnHarnessAsync(org, harness.Id, ct), http));
    }

    /// <summary>
    /// Deletes a harness no active agent runs on and that is not the org's default (409 <c>harness_in_use</c> otherwise:
    /// archive it instead). Sessions opened on it keep what they took from it.
    /// </summary>
    [WolverineDelete("/v1/harnesses/{id}"), ProducesResponseType(StatusCodes.Status204NoContent)]
    public static async Task<IResult> Delete(string id, IDocumentSession documents, IAgentDirectory agents, IOrgDefaults orgDefaults,
        IMessageBus bus, HttpRequest http)
    {
        var caller = http.Caller();
        var ct = http.HttpContext.RequestAborted;
        if (GenericHarness.Is(id)) return Problems.Result(Problems.BadRequest("harness_built_in", "the built-in harness cannot be deleted"));
        if (!Ids.IsValid(id, Ids.Harness)) return Problems.Result(InvalidId(id));
        var harness = await documents.LoadAsync<Harness>(id, ct);
        if (harness is null) return Problems.Result(NotFound(id));
        var agentCount = await agents.UsingHarnessAsync(caller.Org, id, ct);
        if (agentCount > 0)
            return Problems.Result(InUse($"{agentCount} active agent(s) run on harness {harness.Name}: move them to another harness, or archive it (PATCH status 'archived')"));
        if (await orgDefaults.HarnessAsync(caller.Org, ct) == id)
            return Problems.Result(InUse($"harness {harness.Name} is the organization's default harness: choose another default first, or archive it"));
        documents.Delete(harness);
        await bus.PublishAsync(new AuditAction(caller.Org, caller.Actor, "harness.deleted", id, new Dictionary<string, string> { ["name"] = harness.Name }));
        return Results.NoContent();
    }

    /// <summary>A copy of your own (the built-in one too): named <c>{name}-copy</c> (or <c>-copy-2</c>, …).</summary>
    [WolverinePost("/v1/harnesses/{id}/copy"), ProducesResponseType<HarnessResponse>(StatusCodes.Status201Created)]
    public static async Task<IResult> Copy(string id, IDocumentSession documents, IMessageBus bus, HttpRequest http)
    {
        var caller = http.Caller();
        var ct = http.HttpContext.RequestAborted;
        var source = await FindAsync(documents, caller.Org, id, ct);
        if (source is null) return Problems.Result(NotFound(id));
        var now = DateTimeOffset.UtcNow;
        var copy = new Harness
        {
            Id = Ids.New(Ids.Harness), OrgId = caller.Org,
            Name = await Slugs.CopyNameAsync(source.Name, name => documents.Query<Harness>().AnyAsync(h => h.Name == name, ct)),
            DisplayName = Slugs.CopyDisplayName(source.DisplayName), Description = source.Description, SystemPrompt = source.SystemPrompt,
            DefaultModelId = source.DefaultModelId, Capabilities = [.. source.Capabilities], InitialFiles = [.. source.InitialFiles],
            Tags = [.. source.Tags], CreatedAt = now, UpdatedAt = now,
        };
        return await CreatedAsync(copy, documents, bus, caller, "harness.copied", http);
    }

    /// <summary>Adopts an example (<c>GET /v1/harness-examples</c>) as the org's own harness; a taken name gets a random suffix.</summary>
    [WolverinePost("/v1/harnesses/import"), ProducesResponseType<HarnessResponse>(StatusCodes.Status201Created)]
    public static async Task<IResult> Import(IDocumentSession documents, IMessageBus bus, HttpRequest http)
    {
        var caller = http.Caller();
        var ct = http.HttpContext.RequestAborted;
        var name = http.Query["from-example"].ToString();
        if (string.IsNullOrEmpty(name))
            return Problems.Result(Problems.BadRequest("missing_example", "from-example is required: the name of one of GET /v1/harness-examples"));
        if (HarnessExamples.Find(name) is not { } example)
            return Problems.Result(Problems.NotFound("example_not_found", $"no harness example is named '{name}' (GET /v1/harness-examples lists them)"));
        var chosen = await Slugs.ExampleNameAsync(example.Name, name => documents.Query<Harness>().AnyAsync(h => h.Name == name, ct));
        var now = DateTimeOffset.UtcNow;
        var harness = new Harness
        {
            Id = Ids.New(Ids.Harness), OrgId = caller.Org, Name = chosen, DisplayName = example.DisplayName, Description = example.Description,
            SystemPrompt = example.SystemPrompt, Capabilities = example.Capabilities.Select(c => new CapabilityRef(c)).ToList(),
            Tags = [.. example.Tags], CreatedAt = now, UpdatedAt = now,
        };
        return await CreatedAsync(harness, documents, bus, caller, "harness.imported", http);
    }

    [WolverineGet("/v1/harness-examples"), ProducesResponseType<IReadOnlyList<HarnessExampleResponse>>(StatusCodes.Status200OK)]
    public static IReadOnlyList<HarnessExampleResponse> Examples() =>
        HarnessExamples.All.Select(e => new HarnessExampleResponse(e.Name, e.DisplayName, e.Description, e.Tags,
            e.Capabilities.Select(c => new CapabilityRef(c)).ToList(), e.DevOnly, e.ParentName)).ToList();

    /// <summary>Whether a name is free for a harness (a malformed name is not: <c>available: false</c>).</summary>
    [WolverineGet("/v1/harnesses/check-name"), ProducesResponseType<CheckNameResponse>(StatusCodes.Status200OK)]
    public static Task<IResult> CheckName(IQuerySession documents, HttpRequest http) =>
        Slugs.CheckNameAsync(http, Ids.Harness, name => documents.Query<Harness>().Where(h => h.Name == name).Select(h => h.Id)
            .FirstOrDefaultAsync(http.HttpContext.RequestAborted), BuiltInHarness.Name);

    /// <summary>What the caller may do with harnesses: view and manage (members), dangerous changes (org admins).</summary>
    [WolverineGet("/v1/harnesses/config"), ProducesResponseType<ResourceConfigResponse>(StatusCodes.Status200OK)]
    public static ResourceConfigResponse Config(HttpRequest http) => Slugs.Policies(http, "harness");

    /// <summary>The system prompt and tools a harness with these settings gives its agents (nothing is stored).</summary>
    [WolverinePost("/v1/harnesses/preview"), ProducesResponseType<HarnessPreviewResponse>(StatusCodes.Status200OK)]
    public static IResult Preview(PreviewHarnessRequest? request)
    {
        if (request is null) return Problems.Result(Problems.BadRequest("invalid_body", "the request body must be a JSON object"));
        if (InputRules.First(Shape(null, request.ParentHarnessId, request.Capabilities, null, null, request.McpServers, null, null)) is { } problem)
            return Problems.Result(problem);
        var capabilities = Canonical(request.Capabilities) ?? [];
        return Results.Ok(new HarnessPreviewResponse(request.SystemPrompt ?? "",
            capabilities.SelectMany(c => BuiltInCapabilities.ToolsOf(c.Ref).Select(t => new PreviewTool(t, c.Ref))).DistinctBy(t => t.Name).ToList()));
    }

    /// <summary>Its sessions by status, their turns, tokens and cost (<paramref name="id"/>: its id or its name).</summary>
    [WolverineGet("/v1/harnesses/{id}/stats"), ProducesResponseType<ResourceStats>(StatusCodes.Status200OK)]
    public static async Task<IResult> Stats(string id, IQuerySession documents, ISessionStats stats, HttpRequest http)
    {
        var org = http.Caller().Org;
        var harness = await FindAsync(documents, org, id, http.HttpContext.RequestAborted);
        return harness is null
            ? Problems.Result(NotFound(id))
            : Results.Ok(await stats.OfAsync(org, null, http.HttpContext.RequestAborted, harness.Id));
    }

    internal static async Task<IResult> CreatedAsync(Harness harness, IDocumentSession documents, IMessageBus bus, Caller caller, string action,
        HttpRequest http)
    {
        documents.Store(harness);
        await bus.PublishAsync(new AuditAction(caller.Org, caller.Actor, action, harness.Id, new Dictionary<string, string> { ["name"] = harness.Name }));
        var response = HarnessResponse.From(harness, 0, http);
        IdempotencyKeys.Record(http.HttpContext, documents, StatusCodes.Status201Created, response.SelfUrl, response);
        return Results.Created(response.SelfUrl, response);
    }

    private static async Task<Harness?> FindAsync(IQuerySession documents, string org, string idOrName, CancellationToken ct) =>
        GenericHarness.Is(idOrName) ? GenericHarness.For(org) : await HarnessLookup.FindAsync(documents, idOrName, ct);

    internal static List<CapabilityRef>? Canonical(List<CapabilityRef?>? capabilities) =>
        capabilities?.Select(c => BuiltInCapabilities.Canonical(c!)).DistinctBy(c => c.Ref).ToList();

    internal static ProblemDetails NotFound(string id) => Problems.NotFound("harness_not_found", $"harness {id} not found");

    internal static ProblemDetails NameTaken(string name) => Problems.Conflict("harness_name_taken", $"another harness is already named '{name}'");

    private static ProblemDetails InUse(string detail) => Problems.Conflict("harness_in_use", detail);

    internal static ProblemDetails InvalidId(string id) => Problems.BadRequest("invalid_harness_id", $"'{id}' is not a harness id (harness_<32 hex>)");

    internal static ProblemDetails BuiltInReadOnly() =>
        Problems.BadRequest("harness_built_in", "the built-in harness cannot be changed: copy it (POST /v1/harnesses/generic/copy) to make one of your own");
}

/// <summary>POST /v1/harnesses: a harness of the org (201).</summary>
public static class CreateHarnessEndpoint
{
    public static ProblemDetails Validate(CreateHarnessRequest? request) =>
        request is null
            ? Problems.BadRequest("invalid_body", "the request body must be a JSON object")
            : InputRules.First(Slugs.Check(request.Name),
                  HarnessEndpoints.Shape(request.Name, request.ParentHarnessId, request.Capabilities, request.InitialFiles, request.Tags, request.McpServers,
                      request.NetworkAccess, request.EmbedderMetadata)) ?? WolverineContinue.NoProblems;

    [WolverinePost("/v1/harnesses"), Idempotent, ProducesResponseType<HarnessResponse>(StatusCodes.Status201Created)]
    public static async Task<IResult> Create(CreateHarnessRequest request, IDocumentSession documents, IModelDirectory models, IMessageBus bus,
        HttpRequest http)
    {
        var caller = http.Caller();
        if (await InputRules.Model(models, caller.Org, request.DefaultModelId, http.HttpContext.RequestAborted) is { } unknownModel)
            return Problems.Result(unknownModel);
        if (await documents.Query<Harness>().AnyAsync(h => h.Name == request.Name))
            return Problems.Result(HarnessEndpoints.NameTaken(request.Name!));
        var now = DateTimeOffset.UtcNow;
        var harness = new Harness
        {
            Id = Ids.New(Ids.Harness), OrgId = caller.Org, Name = request.Name!, DisplayName = request.DisplayName, Description = request.Description,
            SystemPrompt = string.IsNullOrWhiteSpace(request.SystemPrompt) ? null : request.SystemPrompt,
            DefaultModelId = request.DefaultModelId,
            Capabilities = HarnessEndpoints.Canonical(request.Capabilities) ?? [],
            InitialFiles = request.InitialFiles?.Select(f => f!).ToList() ?? [],
            Tags = request.Tags?.Select(t => t!).Distinct().ToList() ?? [],
            CreatedAt = now, UpdatedAt = now,
        };
        return await HarnessEndpoints.CreatedAsync(harness, documents, bus, caller, "harness.created", http);
    }
}

/// <summary>PATCH /v1/harnesses/{id}: omitted fields stay; lists replace; status active/archived.</summary>
public static class UpdateHarnessEndpoint
{
    public static ProblemDetails Validate(UpdateHarnessRequest? request) =>
        request is null
            ? Problems.BadRequest("invalid_body", "the request body must be a JSON object")
            : InputRules.First(
                  HarnessEndpoints.Shape(request.Name, request.ParentHarnessId, request.Capabilities, request.InitialFiles, request.Tags, request.McpServers,
                      request.NetworkAccess, request.EmbedderMetadata),
                  request.Status is null or HarnessSnapshot.Active or HarnessSnapshot.Archived
                      ? null
                      : Problems.BadRequest("invalid_status", "status must be 'active' or 'archived' (DELETE deletes a harness)"))
              ?? WolverineContinue.NoProblems;

    [WolverinePatch("/v1/harnesses/{id}"), ProducesResponseType<HarnessResponse>(StatusCodes.Status200OK)]
    public static async Task<IResult> Patch(string id, UpdateHarnessRequest request, IDocumentSession documents, IModelDirectory models,
        ISessionStats stats, HttpRequest http)
    {
        var org = http.Caller().Org;
        var ct = http.HttpContext.RequestAborted;
        if (GenericHarness.Is(id)) return Problems.Result(HarnessEndpoints.BuiltInReadOnly());
        if (!Ids.IsValid(id, Ids.Harness)) return Problems.Result(HarnessEndpoints.InvalidId(id));
        if (await InputRules.Model(models, org, request.DefaultModelId, ct) is { } unknownModel) return Problems.Result(unknownModel);
        var harness = await documents.LoadAsync<Harness>(id, ct);
        if (harness is null) return Problems.Result(HarnessEndpoints.NotFound(id));

        var changesContent = request with { Status = null } != new UpdateHarnessRequest(null, null, null, null, null, null, null, null, null, null);
        if (harness.Status == HarnessSnapshot.Archived && request.Status != HarnessSnapshot.Active && changesContent)
            return Problems.Result(Problems.Conflict("harness_archived", $"harness {id} is archived; set status to 'active' to change it"));
        if (request.Name is not null && request.Name != harness.Name && await documents.Query<Harness>().AnyAsync(h => h.Name == request.Name, ct))
            return Problems.Result(HarnessEndpoints.NameTaken(request.Name));

        var now = DateTimeOffset.UtcNow;
        harness.Name = request.Name ?? harness.Name;
        harness.DisplayName = request.DisplayName ?? harness.DisplayName;
        harness.Description = request.Description ?? harness.Description;
        if (request.SystemPrompt is not null) harness.SystemPrompt = string.IsNullOrWhiteSpace(request.SystemPrompt) ? null : request.SystemPrompt;
        harness.DefaultModelId = request.DefaultModelId ?? harness.DefaultModelId;
        harness.Capabilities = HarnessEndpoints.Canonical(request.Capabilities) ?? harness.Capabilities;
        if (request.InitialFiles is not null) harness.InitialFiles = request.InitialFiles.Select(f => f!).ToList();
        if (request.Tags is not null) harness.Tags = request.Tags.Select(t => t!).Distinct().ToList();
        if (request.Status is not null && request.Status != harness.Status)
        {
            harness.Status = request.Status;
            harness.ArchivedAt = request.Status == HarnessSnapshot.Archived ? now : null;
        }

        harness.UpdatedAt = now;
        documents.Store(harness);
        return Results.Ok(HarnessResponse.From(harness, await stats.CountOnHarnessAsync(org, harness.Id, ct), http));
    }
}
