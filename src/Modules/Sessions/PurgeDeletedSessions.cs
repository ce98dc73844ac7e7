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

    /// <summary>The ids of the next sessions to purge, the longest deleted first: read through the index of deleted sessions.</summary>
    public static IQueryable<string> Due(IQuerySession documents, DateTimeOffset cutoff) =>
        documents.Query<Session>()
            .Where(s => s.DeletedAt != null && s.DeletedAt < cutoff)
            .OrderBy(s => s.DeletedAt).Take(BatchSize).Select(s => s.Id);

    public static async Task<(MaintenanceDone, OutgoingMessages)> Handle(PurgeDeletedSessions purge, IDocumentSession documents,
        CancellationToken ct)
    {
        var ids = await Due(documents, DateTimeOffset.UtcNow - purge.Retention).ToListAsync(ct);
        var next = new OutgoingMessages();
        foreach (var id in ids)
        {
            documents.Delete<Session>(id);
            next.Add(new SessionPurged(id));
        }

        return (new MaintenanceDone(ids.Count), next);
    }
}
