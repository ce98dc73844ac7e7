using System.Text.Json.Serialization;

namespace Everruns.Contracts;

/// <summary>
/// Budgets: spending caps on a session, an agent or an org, checked before each model call and charged after it. A call
/// first reserves what it may cost at most (its prompt and <see cref="BudgetCall.MaxOutputTokens"/> answer tokens,
/// lowered to what every budget can still pay), under the budgets' row locks, so two instances never both spend the last
/// of a budget; the call's real cost then replaces the reservation.
/// </summary>
public interface IBudgetGate
{
    Task<BudgetReservation> ReserveAsync(BudgetCall call, CancellationToken ct = default);

    /// <summary>Charges the call's real tokens in place of its reservation (once per call, however often asked); what it crossed.</summary>
    Task<IReadOnlyList<ISessionEventData>> SettleAsync(BudgetCall call, TokenUsage used, CancellationToken ct = default);
}

/// <summary>
/// A model call of a session's turn: <paramref name="CallKey"/> names it (turn and iteration) so that a call run again
/// reserves and settles once; its prompt's tokens (counted here, when a budget applies: counting costs), the most it may
/// answer, and the model's price in US dollars per million tokens (null: unknown, so <c>usd</c> budgets are not charged for it).
/// </summary>
public sealed record BudgetCall(string OrgId, string SessionId, string? AgentId, string CallKey, Func<long> InputTokens, int MaxOutputTokens,
    double? InputPricePerMillion, double? OutputPricePerMillion, double? CacheReadPricePerMillion);

/// <summary>
/// <see cref="Action"/>: <c>continue</c> (reserved: the call may answer up to <see cref="MaxOutputTokens"/>), <c>pause</c>
/// (a budget is paused: the turn waits for <c>POST /v1/sessions/{id}/resume</c>) or <c>stop</c> (a budget is exhausted or
/// cannot pay for one more call); <see cref="Event"/> what to tell the session when not continuing.
/// </summary>
public sealed record BudgetReservation(string Action, int? MaxOutputTokens = null, ISessionEventData? Event = null, string? Message = null,
    string? ErrorCode = null, bool Reserved = false)
{
    public const string Continue = "continue";
    public const string Pause = "pause";
    public const string Stop = "stop";
}

/// <summary>Sent by Budgets when <c>POST /v1/sessions/{id}/resume</c> reactivated budgets: a turn paused on them goes on.</summary>
public sealed record ResumeBudgetPausedTurn(string OrgId, string SessionId, IReadOnlyList<BudgetEventData> Resumed);

/// <summary>A budget's state when it warned, paused, stopped or resumed a session's turn.</summary>
public sealed record BudgetEventData(string BudgetId, double Balance, double Limit, string Currency,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? SoftLimit = null, string? Message = null);

/// <summary>The balance fell to 20% of the limit or below.</summary>
[EventType(EventTypes.BudgetWarning)]
public sealed record BudgetWarning(string BudgetId, double Balance, double Limit, string Currency, double? SoftLimit, string? Message)
    : ISessionEventData;

/// <summary>What was spent passed the soft limit: the budget is paused, and turns under it wait at their next model call.</summary>
[EventType(EventTypes.BudgetPaused)]
public sealed record BudgetPaused(string BudgetId, double Balance, double Limit, string Currency, double? SoftLimit, string? Message)
    : ISessionEventData;

/// <summary>The budget is spent (or cannot pay for another call): the turn stops.</summary>
[EventType(EventTypes.BudgetExhausted)]
public sealed record BudgetExhausted(string BudgetId, double Balance, double Limit, string Currency, double? SoftLimit, string? Message)
    : ISessionEventData;

/// <summary>A paused budget was resumed through the API; the turn it held goes on.</summary>
[EventType(EventTypes.BudgetResumed)]
public sealed record BudgetResumed(string BudgetId, double Balance, double Limit, string Currency, double? SoftLimit, string? Message)
    : ISessionEventData;
