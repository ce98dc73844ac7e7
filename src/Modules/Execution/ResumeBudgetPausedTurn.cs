using Everruns.Contracts;
using Marten;
using Wolverine;

namespace Everruns.Modules.Execution;

/// <summary>
/// Budgets resumed a session's paused budgets: the session hears of each (<c>budget.resumed</c>), and a turn paused on its
/// budget calls the model of the iteration it stopped at.
/// </summary>
public static class ResumeBudgetPausedTurnHandler
{
    public static async Task<OutgoingMessages> Handle(ResumeBudgetPausedTurn resume, IDocumentSession documents, CancellationToken ct)
    {
        var next = new OutgoingMessages();
        var state = await Turns.LoadLockedAsync(documents, resume.SessionId, ct);
        if (state?.Active is not { Phase: TurnPhase.PausedForBudget } paused) return next;
        foreach (var b in resume.Resumed)
            Turns.Append(documents, state, new BudgetResumed(b.BudgetId, b.Balance, b.Limit, b.Currency, b.SoftLimit, b.Message));
        state.Active = paused with { Phase = TurnPhase.Reasoning, SteppedAt = DateTimeOffset.UtcNow };
        documents.Store(state);
        next.Add(new RunTurnStep(resume.SessionId, paused.TurnId, paused.Iteration, paused.InputMessageId));
        return next;
    }
}
