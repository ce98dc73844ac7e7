using Everruns.Contracts;
using Everruns.Infrastructure;
using Marten;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Wolverine;
using Wolverine.Http;

namespace Everruns.Modules.Sessions;

/// <summary>
/// POST /v1/sessions/{id}/cancel — cancels the running turn (Execution appends <c>turn.cancelled</c>, the user's
/// request and the agent's note, then <c>session.idled</c>, and stops the model call on whichever instance runs it):
/// <c>{"status":"cancelled"|"no_op","message":...}</c>. An optional body <c>{"reason":"..."}</c> gives the reason.
/// </summary>
public static class CancelSessionTurnEndpoint
{
    /// <summary>What a cancel did: <c>cancelled</c> a running turn, or <c>no_op</c> when none ran.</summary>
    public sealed record CancelResponse(string Status, string Message);

    /// <summary>The optional body: the reason <c>turn.cancelled</c> gives (by default "User requested cancellation").</summary>
    public sealed record CancelRequest(string? Reason = null);

    public const string DefaultReason = "User requested cancellation";

    public static ProblemDetails Validate(CancelRequest? request) =>
        request?.Reason is { Length: > 500 }
            ? Problems.BadRequest("invalid_reason", "reason is at most 500 characters")
            : WolverineContinue.NoProblems;

    [WolverinePost("/v1/sessions/{id}/cancel"), ProducesResponseType<CancelResponse>(StatusCodes.Status200OK)]
    public static async Task<IResult> Post(string id, CancelRequest? request, IQuerySession documents, IMessageBus bus, HttpContext http,
        CancellationToken ct)
    {
        if (SessionLookup.Id(id) is { } invalid) return Problems.Result(invalid);
        if (await SessionLookup.Live(documents, id) is null)
            return Problems.Result(SessionLookup.NotFound(id));

        var reason = string.IsNullOrWhiteSpace(request?.Reason) ? DefaultReason : request.Reason;
        var outcome = await bus.InvokeAsync<CancelTurnOutcome>(new CancelTurn(id, reason, UserRequested: true), ct);
        return Results.Ok(new CancelResponse(outcome.Status, outcome.Message));
    }
}
