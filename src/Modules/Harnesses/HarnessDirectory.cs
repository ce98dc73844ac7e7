using Everruns.Contracts;
using Marten;

namespace Everruns.Modules.Harnesses;

/// <summary>What other modules read of harnesses: the org's (by id or name) and the built-in one.</summary>
public sealed class HarnessDirectory(IDocumentStore store) : IHarnessDirectory
{
    public async Task<HarnessSnapshot?> FindAsync(string orgId, string idOrName, CancellationToken ct = default)
    {
        if (GenericHarness.Is(idOrName)) return GenericHarness.For(orgId).ToSnapshot() with { IsBuiltIn = true };
        await using var documents = store.QuerySession(orgId);
        return (await HarnessLookup.FindAsync(documents, idOrName, ct))?.ToSnapshot();
    }
}

public static class HarnessLookup
{
    /// <summary>The org's stored harness with this id, else this name (the session's tenant is the org); null when none.</summary>
    public static async Task<Harness?> FindAsync(IQuerySession documents, string idOrName, CancellationToken ct = default) =>
        Ids.IsValid(idOrName, Ids.Harness)
            ? await documents.LoadAsync<Harness>(idOrName, ct)
            : await documents.Query<Harness>().FirstOrDefaultAsync(h => h.Name == idOrName, ct);
}
