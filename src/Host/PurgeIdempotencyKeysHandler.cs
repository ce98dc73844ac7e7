using Everruns.Contracts;
using Marten;

namespace Everruns.Host;

/// <summary>Maintenance job <c>purge_idempotency_keys</c>: responses kept for retries go after 24 hours.</summary>
public static class PurgeIdempotencyKeysHandler
{
    public static async Task<MaintenanceDone> Handle(PurgeIdempotencyKeys purge, IDocumentSession documents, CancellationToken ct)
    {
        var cutoff = DateTimeOffset.UtcNow - purge.Retention;
        // Every org's.
        var expired = await documents.Query<IdempotentResponse>().CountAsync(r => r.AnyTenant() && r.CreatedAt < cutoff, ct);
        if (expired > 0) documents.DeleteWhere<IdempotentResponse>(r => r.AnyTenant() && r.CreatedAt < cutoff);
        return new MaintenanceDone(expired);
    }
}
