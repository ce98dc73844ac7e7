using System.Data.Common;
using Marten;
using Marten.Linq.QueryHandlers;
using Marten.Services.BatchQuerying;
using Weasel.Postgresql;
using Weasel.Storage;

namespace Everruns.Contracts;

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

    // The lock statements, around their two parameters: the lock class, then the session id(s).
    private static readonly LockSql OneLock = new("select pg_advisory_xact_lock(", ", hashtext(", "))");

    private static readonly LockSql ManyLocks = new("select count(pg_advisory_xact_lock(", ", hashtext(s))) from (select s from unnest(",
        ") s order by s collate \"C\") ordered");

    private sealed record LockSql(string BeforeClass, string BeforeSessions, string After);

    /// <summary>Takes the session's write turn (in the session's transaction, begun here if it has none).</summary>
    public static async Task LockAsync(IDocumentSession documents, string sessionId, CancellationToken ct = default) =>
        await (await LockedBatchAsync(documents, sessionId, ct)).Execute(ct);

    /// <summary>
    /// A batch query that takes the session's write turn before its reads, in the same round trip: the caller adds its
    /// reads and executes it. Each statement of a batch runs after the one before it finished, with a snapshot of its
    /// own, so the reads see everything the previous holder of the lock committed.
    /// </summary>
    public static Task<IBatchedQuery> LockedBatchAsync(IDocumentSession documents, string sessionId, CancellationToken ct = default) =>
        LockedBatchAsync(documents, new LockStatement(OneLock, sessionId, null), ct);

    /// <summary>
    /// The same for several sessions, locked in one statement in a fixed order (so two callers locking overlapping sets
    /// never wait on each other in a cycle).
    /// </summary>
    public static Task<IBatchedQuery> LockedBatchAsync(IDocumentSession documents, IReadOnlyCollection<string> sessionIds,
        CancellationToken ct = default) =>
        LockedBatchAsync(documents, new LockStatement(ManyLocks, null, sessionIds.Distinct().ToArray()), ct);

    private static async Task<IBatchedQuery> LockedBatchAsync(IDocumentSession documents, LockStatement locking, CancellationToken ct)
    {
        await documents.BeginTransactionAsync(ct);
        var batch = documents.CreateBatchQuery();
        _ = batch.AddItem(locking);
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
        private readonly LockStatement _statement = new(OneLock, sessionId, null);

        public Type DocumentType => typeof(JasperFx.Events.IEvent);

        public void ConfigureCommand(ICommandBuilder builder, IStorageSession session) => _statement.ConfigureCommand(builder, session);

        public Task PostprocessAsync(DbDataReader reader, IList<Exception> exceptions, CancellationToken token) => Task.CompletedTask;

        public Weasel.Core.OperationRole Role() => Weasel.Core.OperationRole.Other;
    }

    /// <summary>The advisory lock of one session, or of several, as one statement of a batch query.</summary>
    private sealed class LockStatement(LockSql sql, string? sessionId, string[]? sessionIds) : IQueryHandler<bool>
    {
        public void ConfigureCommand(ICommandBuilder builder, IStorageSession session)
        {
            builder.Append(sql.BeforeClass);
            builder.AppendParameter(LockClass);
            builder.Append(sql.BeforeSessions);
            if (sessionIds is null) builder.AppendParameter(sessionId!);
            else builder.AppendParameter(sessionIds);
            builder.Append(sql.After);
        }

        public Task<bool> HandleAsync(DbDataReader reader, IStorageSession session, CancellationToken token) => Task.FromResult(true);

        public Task<int> StreamJson(Stream stream, DbDataReader reader, CancellationToken token) => Task.FromResult(0);
    }
}
