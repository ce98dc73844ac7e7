namespace Everruns.Contracts;

/// <summary>A durable message doing part of a session's turn: if it is dead-lettered, its turn fails at once.</summary>
public interface ITurnWork
{
    string SessionId { get; }
    string TurnId { get; }
}

/// <summary>
/// Published when a turn's work went to the dead-letter queue (<paramref name="DeadLetterId"/>: its id there, for
/// <c>/v1/durable/dlq</c>): Execution fails the turn with <c>internal_error</c> instead of leaving it active.
/// </summary>
public sealed record TurnWorkDeadLettered(string SessionId, string TurnId, string DeadLetterId, string MessageType);
