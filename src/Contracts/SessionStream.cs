using System.Data.Common;
using Marten;
using Weasel.Storage;
using Marten.Linq.QueryHandlers;
using Marten.Services.BatchQuerying;
using Weasel.Postgresql;

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

    public static Task LockAsync(IDocumentSession documents, string sessionId, CancellationToken ct = default) =>
        TakeLocksAsync(documents, "select pg_advisory_xact_lock(@class, hashtext(@sessions))", sessionId, ct);

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
    /// Takes the write turn of several sessions in one statement, in a fixed order (so two callers locking overlapping
    /// sets never wait on each other in a cycle).
    /// </summary>
    public static Task LockManyAsync(IDocumentSession documents, IReadOnlyCollection<string> sessionIds, CancellationToken ct = default) =>
        TakeLocksAsync(documents,
            "select count(pg_advisory_xact_lock(@class, hashtext(s))) from (select s from unnest(@sessions) s order by s collate \"C\") ordered",
            sessionIds.Distinct().ToArray(), ct);

    private static async Task TakeLocksAsync(IDocumentSession documents, string sql, object sessions, CancellationToken ct)
    {
        await documents.BeginTransactionAsync(ct);
        await using var cmd = documents.Connection!.CreateCommand();
        cmd.CommandText = sql;
        var lockClass = cmd.CreateParameter();
        lockClass.ParameterName = "class";
        lockClass.Value = LockClass;
        cmd.Parameters.Add(lockClass);
        var sessionsParameter = cmd.CreateParameter();
        sessionsParameter.ParameterName = "sessions";
        sessionsParameter.Value = sessions;
        cmd.Parameters.Add(sessionsParameter);
        await cmd.ExecuteScalarAsync(ct);
    }

    /// <summary>Appends events to the session's stream, after taking the session's write turn.</summary>
    public static async Task AppendAsync(IDocumentSession documents, string sessionId, SessionEvent @event, CancellationToken ct = default)
    {
        await LockAsync(documents, sessionId, ct);
        documents.Events.Append(sessionId, @event);
        EverrunsMetrics.EventsWritten.Add();
    }

    /// <summary>The session's advisory lock as one statement of a batch query.</summary>
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
