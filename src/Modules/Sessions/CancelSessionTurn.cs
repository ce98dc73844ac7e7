using Everruns.Contracts;
using Everruns.Infrastructure;
using Marten;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Wolverine;
using Wolverine.Http;

namespace Everruns.Modules.Sessions;

/// <summary>
/// POST /v1/sessions/{id}/cancel — cancels the running turn (Execution appends <c>turn.cancelled</c> and
/// stops the model call on whichever instance runs it): <c>{"status":"cancelled"|"no_op","message":...}</c>.
/// </summary>
public static class CancelSessionTurnEndpoint
{
    /// <summary>What a cancel did: <c>cancelled</c> a running turn, or <c>no_op</c> when none ran.</summary>
    public sealed record CancelResponse(string Status, string Message);

    [WolverinePost("/v1/sessions/{id}/cancel"), ProducesResponseType<CancelResponse>(StatusCodes.Status200OK)]
    public static async Task<IResult> Post(string id, IQuerySession documents, IMessageBus bus, HttpContext http, CancellationToken ct)
    {
        if (SessionLookup.Id(id) is { } invalid) return Problems.Result(invalid);
        if (await SessionLookup.Live(documents, id) is null)
            return Problems.Result(SessionLookup.NotFound(id));

        var outcome = await bus.InvokeAsync<CancelTurnOutcome>(new CancelTurn(id, "cancelled by user"), ct);
        return Results.Ok(new CancelResponse(outcome.Status, outcome.Message));
    }
}
