using System.Data.Common;
using Marten;
using Marten.Linq.QueryHandlers;
using Marten.Services.BatchQuerying;
using Weasel.Postgresql;
using Weasel.Storage;

namespace Everruns.Infrastructure;

/// <summary>
/// Writers of one session (its event stream and its documents) take turns. Marten's quick append reads the stream version
/// without a lock, so two transactions appending to the same stream at once would pick the same version
/// and one would fail; a transaction-scoped advisory lock per session makes them queue instead, and keeps
/// the per-session sequence gap-free in commit order. The lock is released when the caller's transaction ends.
/// </summary>
public static class SessionStream
{
    // Two-key advisory locks live in their own key space: no clash with the single-key migration lock.
    private const int LockClass = 0x53455353; // "SESS"

    /// <summary>Takes the session's write turn (in the session's transaction, begun here if it has none).</summary>
    public static async Task LockAsync(IDocumentSession documents, string sessionId, CancellationToken ct = default) =>
        await (await LockedBatchAsync(documents, sessionId, ct)).Execute(ct);

    /// <summary>
    /// A batch query that takes the session's write turn before its reads, in the same round trip: the caller adds its
    /// reads and executes it. Each statement of a batch runs after the one before it finished, with a snapshot of its
    /// own, so the reads see everything the previous holder of the lock committed.
    /// </summary>
    public static async Task<IBatchedQuery> LockedBatchAsync(IDocumentSession documents, string sessionId, CancellationToken ct = default)
    {
        await documents.BeginTransactionAsync(ct);
        var batch = documents.CreateBatchQuery();
        _ = batch.AddItem(new LockStatement(sessionId));
        return batch;
    }

    /// <summary>
    /// Takes the session's write turn as the first statement of the session's next save, in the save's own round trip,
    /// for a writer that needs to read nothing under the lock. (Marten runs the operations it files as event operations
    /// before every other one, in the order queued, and files a stream's appends there when the save begins: this one
    /// comes before them.)
    /// </summary>
    public static void LockOnSave(IDocumentSession documents, string sessionId) => documents.QueueOperation(new LockOperation(sessionId));

    /// <summary>The same statement as a batch query's (<see cref="LockStatement"/>), as an operation of a save.</summary>
    private sealed class LockOperation(string sessionId) : Marten.Internal.Operations.IStorageOperation
    {
        private readonly LockStatement _statement = new(sessionId);

        public Type DocumentType => typeof(JasperFx.Events.IEvent);

        public void ConfigureCommand(ICommandBuilder builder, IStorageSession session) => _statement.ConfigureCommand(builder, session);

        public Task PostprocessAsync(DbDataReader reader, IList<Exception> exceptions, CancellationToken token) => Task.CompletedTask;

        public Weasel.Core.OperationRole Role() => Weasel.Core.OperationRole.Other;
    }

    /// <summary>The advisory lock of one session, as one statement of a batch query.</summary>
    private sealed class LockStatement(string sessionId) : IQueryHandler<bool>
    {
        public void ConfigureCommand(ICommandBuilder builder, IStorageSession session)
        {
            builder.Append("select pg_advisory_xact_lock(");
            builder.AppendParameter(LockClass);
            builder.Append(", hashtext(");
            builder.AppendParameter(sessionId);
            builder.Append("))");
        }

        public Task<bool> HandleAsync(DbDataReader reader, IStorageSession session, CancellationToken token) => Task.FromResult(true);

        public Task<int> StreamJson(Stream stream, DbDataReader reader, CancellationToken token) => Task.FromResult(0);
    }
}
