using Everruns.Contracts;
using Everruns.Infrastructure;
using Marten;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Wolverine.Http;

namespace Everruns.Modules.Sessions;

/// <summary>PATCH body: only the given fields change.</summary>
public sealed record UpdateSessionRequest(string? Title, List<string?>? Tags, string? Locale,
    System.Text.Json.Nodes.JsonNode? AgentIdentityId = null);

public static class UpdateSessionEndpoint
{
    public static ProblemDetails Validate(UpdateSessionRequest? request) =>
        request is null
            ? Problems.BadRequest("invalid_body", "the request body must be a JSON object")
            : InputRules.First(
                  InputRules.Tags(request.Tags),
                  InputRules.Unsupported(("agent_identity_id", request.AgentIdentityId)),
                  request.Title is { Length: > 500 } ? Problems.BadRequest("invalid_title", "title is at most 500 characters") : null)
              ?? WolverineContinue.NoProblems;

    [WolverinePatch("/v1/sessions/{id}"), ProducesResponseType<SessionResponse>(StatusCodes.Status200OK)]
    public static async Task<IResult> Patch(string id, UpdateSessionRequest request, IDocumentSession documents,
        ISessionActivities activities, HttpRequest http)
    {
        if (SessionLookup.Id(id) is { } invalid) return Problems.Result(invalid);
        await SessionStream.LockAsync(documents, id);
        var session = await SessionLookup.Live(documents, id);
        if (session is null) return Problems.Result(SessionLookup.NotFound(id));

        session.Title = request.Title ?? session.Title;
        if (request.Tags is not null) session.Tags = request.Tags.Select(t => t!).Distinct().ToList();
        session.Locale = request.Locale ?? session.Locale;
        session.UpdatedAt = DateTimeOffset.UtcNow;
        documents.Store(session);
        return Results.Ok(await SessionResponse.WithActivity(session, activities, http, documents));
    }
}
