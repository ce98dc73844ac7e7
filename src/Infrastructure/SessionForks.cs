using Marten;

namespace Everruns.Infrastructure;

/// <summary>
/// Where a fork of a session starts in its parent's events: <see cref="Through"/> the last parent sequence copied
/// (0 when there are none), the parent's <see cref="Head"/>, and <see cref="OpenTurnStartedAt"/>, the sequence of a
/// <c>turn.started</c> at or before the fork point whose end (completed, failed, cancelled) is not (null when none is):
/// nothing is copied then.
/// </summary>
public sealed record ForkPoint(long Through, long Head, long? OpenTurnStartedAt, long? WaitingInputAt = null)
{
    public bool InsideTurn => OpenTurnStartedAt is not null;

    /// <summary>
    /// The sequence of a user's message at or before the fork point whose turn starts after it (queued behind a turn
    /// that ends there, or the point falls between a message and its turn's start): nothing is copied then either.
    /// </summary>
    public bool SplitsInput => WaitingInputAt is not null;
}

/// <summary>Events, for Sessions: the events a fork starts with.</summary>
public interface ISessionEventForks
{
    /// <summary>
    /// In the caller's transaction, which holds the parent's write turn (<see cref="SessionStream"/>): the parent's stored
    /// events up to <paramref name="upTo"/> (all when null) copied to the new session's stream in order, sequenced
    /// 1..N as they were, each with a fresh id, its data, context and timestamp as they were; unless the fork point falls
    /// inside a turn (<see cref="ForkPoint.InsideTurn"/>), between a message and its turn (<see cref="ForkPoint.SplitsInput"/>)
    /// or past the parent's head, when nothing is copied.
    /// </summary>
    Task<ForkPoint> CopyAsync(IDocumentSession documents, string parentSessionId, string forkSessionId, long? upTo, CancellationToken ct);
}
