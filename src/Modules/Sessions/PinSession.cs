using Everruns.Infrastructure;
using Marten;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Wolverine.Http;

namespace Everruns.Modules.Sessions;

/// <summary>A user's pin of a session of their org (document id: user id, ':', session id; the org is its tenant).</summary>
public sealed class SessionPin
{
    public string Id { get; set; } = "";
    public string UserId { get; set; } = "";
    public string SessionId { get; set; } = "";
    public DateTimeOffset PinnedAt { get; set; }

    public static string IdOf(string userId, string sessionId) => $"{userId}:{sessionId}";
}

/// <summary>
/// PUT / DELETE /v1/sessions/{id}/pin → 204: pins (unpins) the session for the calling user, idempotently; 404 for a
/// session not in the org. A session's <c>is_pinned</c> says whether the caller pinned it; its deletion removes its pins.
/// </summary>
public static class PinSessionEndpoint
{
    [WolverinePut("/v1/sessions/{id}/pin"), ProducesResponseType(StatusCodes.Status204NoContent)]
    public static async Task<IResult> Pin(string id, IDocumentSession documents, HttpContext http)
    {
        if (SessionLookup.Id(id) is { } invalid) return Problems.Result(invalid);
        if (await SessionLookup.Live(documents, id) is null) return Problems.Result(SessionLookup.NotFound(id));
        var user = http.Caller().UserId;
        // Stored again when pinned already: the same row (the first pin's time kept).
        var pinId = SessionPin.IdOf(user, id);
        var existing = await documents.LoadAsync<SessionPin>(pinId, http.RequestAborted);
        documents.Store(new SessionPin { Id = pinId, UserId = user, SessionId = id, PinnedAt = existing?.PinnedAt ?? DateTimeOffset.UtcNow });
        return Results.NoContent();
    }

    [WolverineDelete("/v1/sessions/{id}/pin"), ProducesResponseType(StatusCodes.Status204NoContent)]
    public static async Task<IResult> Unpin(string id, IDocumentSession documents, HttpContext http)
    {
        if (SessionLookup.Id(id) is { } invalid) return Problems.Result(invalid);
        if (await SessionLookup.Live(documents, id) is null) return Problems.Result(SessionLookup.NotFound(id));
        documents.Delete<SessionPin>(SessionPin.IdOf(http.Caller().UserId, id));
        return Results.NoContent();
    }
}

/// <summary>Which of some sessions the requesting user pinned (one read).</summary>
public static class Pins
{
    public static async Task<HashSet<string>> OfAsync(IQuerySession documents, string userId, IReadOnlyCollection<string> sessionIds,
        CancellationToken ct)
    {
        if (sessionIds.Count == 0) return [];
        var pins = await documents.LoadManyAsync<SessionPin>(ct, sessionIds.Select(s => SessionPin.IdOf(userId, s)));
        return pins.Select(p => p.SessionId).ToHashSet();
    }

    /// <summary>Every session the user pinned in the org (for <c>?pinned=true</c>).</summary>
    public static async Task<string[]> AllAsync(IQuerySession documents, string userId, CancellationToken ct) =>
        (await documents.Query<SessionPin>().Where(p => p.UserId == userId).Select(p => p.SessionId).ToListAsync(ct)).ToArray();
}
