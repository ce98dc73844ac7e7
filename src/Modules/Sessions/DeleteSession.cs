using Everruns.Contracts;
using Everruns.Infrastructure;
using Marten;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Wolverine;
using Wolverine.Http;

namespace Everruns.Modules.Sessions;

/// <summary>
/// DELETE /v1/sessions/{id} → 204. The session leaves every listing and lookup at once (and every instance's
/// <see cref="SessionCache"/> as the deletion commits); its running turn, if any, is cancelled. The document and its
/// events are kept for retention jobs to purge.
/// </summary>
public static class DeleteSessionEndpoint
{
    [WolverineDelete("/v1/sessions/{id}"), ProducesResponseType(StatusCodes.Status204NoContent)]
    public static async Task<IResult> Delete(string id, IDocumentSession documents, IMessageBus bus, SessionCache cache,
        HttpContext http)
    {
        if (SessionLookup.Id(id) is { } invalid) return Problems.Result(invalid);
        await SessionStream.LockAsync(documents, id);
        var session = await SessionLookup.Live(documents, id);
        if (session is null) return Problems.Result(SessionLookup.NotFound(id));

        session.DeletedAt = session.UpdatedAt = DateTimeOffset.UtcNow;
        documents.Store(session);
        documents.DeleteWhere<SessionPin>(p => p.SessionId == id); // every user's pin of it
        // Out of every instance's session cache: here now, everywhere (here again) when the deletion commits.
        cache.Evict(id);
        SessionChanges.Announce(documents, id);
        await bus.PublishAsync(new CancelTurn(id, "session deleted", DropQueued: true));
        var caller = http.Caller();
        await bus.PublishAsync(new AuditAction(caller.Org, caller.Actor, "session.deleted", id));
        return Results.NoContent();
    }
}
