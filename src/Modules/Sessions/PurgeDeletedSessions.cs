using Everruns.Contracts;
using Marten;
using Wolverine;

namespace Everruns.Modules.Sessions;

/// <summary>
/// Maintenance job <c>purge_deleted_sessions</c>: sessions deleted more than SESSION_RETENTION_DAYS ago are removed
/// for good (500 per run); <see cref="SessionPurged"/> tells the owners of their events and turn state.
/// </summary>
public static class PurgeDeletedSessionsHandler
{
    public const int BatchSize = 500;

    /// <summary>The next sessions to purge in every org, the longest deleted first: read through the index of deleted sessions.</summary>
    public static IQueryable<Session> Due(IQuerySession documents, DateTimeOffset cutoff) =>
        documents.Query<Session>()
            .Where(s => s.AnyTenant() && s.DeletedAt != null && s.DeletedAt < cutoff)
            .OrderBy(s => s.DeletedAt).Take(BatchSize);

    public static async Task<(MaintenanceDone, OutgoingMessages)> Handle(PurgeDeletedSessions purge, IDocumentSession documents,
        CancellationToken ct)
    {
        var due = await Due(documents, DateTimeOffset.UtcNow - purge.Retention).ToListAsync(ct);
        var next = new OutgoingMessages();
        foreach (var session in due)
        {
            documents.ForTenant(session.OrgId).Delete<Session>(session.Id);
            // In the session's org, where the owners of its other data keep it.
            next.Add(new SessionPurged(session.Id).WithDeliveryOptions(new DeliveryOptions { TenantId = session.OrgId }));
        }

        return (new MaintenanceDone(due.Count), next);
    }
}
