using Everruns.Contracts;
using Everruns.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Wolverine.Http;

namespace Everruns.Modules.Sessions;

/// <summary>GET /v1/harnesses and /v1/harnesses/{id}: the one built-in <c>generic</c> harness.</summary>
public static class HarnessesEndpoint
{
    private static readonly DateTimeOffset Epoch = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public sealed record HarnessResponse(
        string Id, string Name, string DisplayName, string Description, string Status, bool IsBuiltIn,
        IReadOnlyList<CapabilityRef> Capabilities, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

    private static readonly HarnessResponse Generic = new(BuiltInHarness.Id, BuiltInHarness.Name, "Generic",
        "The built-in harness: the agent's system prompt, model and capabilities, nothing more.", "active", true, [], Epoch, Epoch);

    [WolverineGet("/v1/harnesses"), ProducesResponseType<Page<HarnessResponse>>(StatusCodes.Status200OK)]
    public static IResult List(HttpRequest http)
    {
        var (paging, problem) = Query.Paging(http);
        if (problem is not null) return Problems.Result(problem);
        var all = new[] { Generic };
        return Results.Ok(Page<HarnessResponse>.Of(all.Skip(paging.Offset).Take(paging.Limit).ToList(), all.Length, paging, http));
    }

    [WolverineGet("/v1/harnesses/{id}"), ProducesResponseType<HarnessResponse>(StatusCodes.Status200OK)]
    public static IResult Get(string id) =>
        id == BuiltInHarness.Id || id == BuiltInHarness.Name
            ? Results.Ok(Generic)
            : Problems.Result(Problems.NotFound("harness_not_found", $"harness {id} not found"));
}
