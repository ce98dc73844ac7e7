using System.Text;
using System.Text.Json.Nodes;
using Everruns.Contracts;
using Everruns.Infrastructure;
using Marten;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Npgsql;
using Wolverine;
using Wolverine.Http;

namespace Everruns.Modules.Execution;

/// <summary>One result a client posts: the call's id, and its <c>result</c> (any JSON) or its <c>error</c>.</summary>
public sealed record ClientToolResult(string? ToolCallId, JsonNode? Result, string? Error);

public sealed record SubmitToolResultsRequest(List<ClientToolResult?>? ToolResults);

/// <summary>The results were taken: the turn goes on (<c>accepted</c> and <c>tool_results_count</c>: how many).</summary>
public sealed record SubmitToolResultsResponse(string Status, int Accepted, int ToolResultsCount);

/// <summary>
/// POST /v1/sessions/{id}/tool-results: the client's results of the calls a turn waits for (<c>tool.call_requested</c>).
/// Under the session's write lock, in one transaction: a <c>tool.completed</c> per result (the model sees each once) and
/// the turn's next model call, on whichever instance takes it. Every call waited for needs its result, each once; a
/// session that is not waiting answers 409 (its detail says "not waiting for tool results", on which the SDKs retry:
/// the event may reach a client a moment before the wait is committed, and of two clients racing, the second finds the
/// turn moved on).
/// </summary>
public static class SubmitToolResultsEndpoint
{
    /// <summary>The most a result (its JSON) or an error may weigh.</summary>
    public const int MaxResultBytes = 100 * 1024;

    [WolverinePost("/v1/sessions/{id}/tool-results"), ProducesResponseType<SubmitToolResultsResponse>(StatusCodes.Status200OK)]
    public static async Task<IResult> Post(string id, SubmitToolResultsRequest? request, ISessionDirectory sessions,
        IDocumentSession documents, IMessageBus bus, HttpContext http)
    {
        var (missing, found) = await InputRules.LiveSession(sessions, http.Caller().Org, id, http.RequestAborted);
        if (missing is not null) return Problems.Result(missing);
        if (request?.ToolResults is not { Count: > 0 } results)
            return Problems.Result(Problems.BadRequest("invalid_tool_results", "tool_results must be a non-empty list of {tool_call_id, result | error}"));

        var given = new Dictionary<string, ClientToolResult>(StringComparer.Ordinal);
        for (var i = 0; i < results.Count; i++)
        {
            if (results[i] is not { ToolCallId: { Length: > 0 } callId } result)
                return Problems.Result(Problems.BadRequest("invalid_tool_results", $"tool_results[{i}].tool_call_id is required"));
            if (!given.TryAdd(callId, result))
                return Problems.Result(Problems.BadRequest("duplicate_tool_call_id", $"tool_results[{i}]: a result for {callId} is already given"));
            if (result.Error is null && result.Result is null)
                return Problems.Result(Problems.BadRequest("invalid_tool_results", $"tool_results[{i}] needs a result or an error"));
            var bytes = result.Error is not null ? Encoding.UTF8.GetByteCount(result.Error) : Encoding.UTF8.GetByteCount(result.Result!.ToJsonString());
            if (bytes > MaxResultBytes)
                return Problems.Result(Problems.Create(StatusCodes.Status413PayloadTooLarge, "tool_result_too_large",
                    $"the result of {callId} is {bytes} bytes; a tool result is at most {MaxResultBytes} bytes"));
        }

        var state = await Turns.LoadLockedAsync(documents, id, http.RequestAborted);
        if (state?.Active is not { Phase: TurnPhase.WaitingForToolResults, Waiting: { } waiting })
        {
            var status = state?.Active is null ? SessionStatuses.Idle : SessionStatuses.Active;
            return Problems.Result(Problems.Conflict("not_waiting_for_tool_results",
                $"Session {id} is not waiting for tool results (current status: {status})"));
        }

        var expected = waiting.Select(c => c.Id).ToHashSet(StringComparer.Ordinal);
        if (given.Keys.FirstOrDefault(k => !expected.Contains(k)) is { } unknown)
            return Problems.Result(Problems.BadRequest("unknown_tool_call_id",
                $"{unknown} is not a call the turn waits for (it waits for {string.Join(", ", expected)})"));
        if (expected.Where(e => !given.ContainsKey(e)).ToList() is { Count: > 0 } absent)
            return Problems.Result(Problems.BadRequest("missing_tool_results",
                $"the turn waits for the results of every call it requested; missing: {string.Join(", ", absent)}"));

        var written = FinishTools.CompleteAll(documents, state, waiting.Select(call => Outcome(call, given[call.Id])).ToList());
        var next = new OutgoingMessages();
        FinishTools.Continue(state, found!.Runtime, written, documents, next);
        foreach (var message in next) await bus.PublishAsync(message); // outboxed: sent once this transaction commits

        return Results.Ok(new SubmitToolResultsResponse("accepted", given.Count, given.Count));
    }

    /// <summary>A client's result as the model will see it: a string as it is, other JSON as JSON text.</summary>
    private static ToolOutcome Outcome(ToolCallRef call, ClientToolResult result) => result.Error is not null
        ? new ToolOutcome(call.Id, call.Name, false, "error", null, result.Error, 0)
        : new ToolOutcome(call.Id, call.Name, true, "success",
            result.Result is JsonValue value && value.TryGetValue<string>(out var text) ? text : result.Result!.ToJsonString(), null, 0);
}

/// <summary>For the timeout job: a wait for a client's results that began before <paramref name="Before"/> ends.</summary>
public sealed record ExpireToolWait(string SessionId, string TurnId, DateTimeOffset Before) : ITurnWork;

/// <summary>
/// Maintenance job <c>expire_tool_waits</c> (on the one maintenance instance; each wait ends in its own transaction, on any
/// instance): a turn that waited for its client's tool results longer than CLIENT_TOOL_TIMEOUT_SECS goes on, with a
/// <c>timeout</c> error result for each call, which the model sees.
/// </summary>
public static class ExpireToolWaitsHandler
{
    public const string TimedOut = "Timed out waiting for client tool results";

    public static async Task<(MaintenanceDone, OutgoingMessages)> Handle(ExpireToolWaits expire, NpgsqlDataSource dataSource,
        ClientToolOptions options, CancellationToken ct)
    {
        var before = DateTimeOffset.UtcNow - options.Timeout;
        await using var cmd = dataSource.CreateCommand($"""
            select d.id, d.data->'active'->>'turn_id', d.tenant_id
            from everruns.mt_doc_sessionturns d
            where d.data->'active'->>'phase' = '{TurnPhase.WaitingForToolResults}'
              and (d.data->'active'->>'stepped_at')::timestamptz < @before
            limit 500
            """);
        cmd.Parameters.AddWithValue("before", before);
        var next = new OutgoingMessages();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
            next.Add(new ExpireToolWait(reader.GetString(0), reader.GetString(1), before)
                .WithDeliveryOptions(new DeliveryOptions { TenantId = reader.GetString(2) }));
        return (new MaintenanceDone(next.Count), next);
    }
}

public static class ExpireToolWaitHandler
{
    public static async Task<OutgoingMessages> Handle(ExpireToolWait expire, IDocumentSession documents, ISessionDirectory sessions,
        CancellationToken ct)
    {
        var next = new OutgoingMessages();
        var state = await Turns.LoadLockedAsync(documents, expire.SessionId, ct);
        // Results posted, a cancel, or a new message since the job looked: nothing to do.
        if (state?.Active is not { Phase: TurnPhase.WaitingForToolResults, Waiting: { } waiting } turn || turn.TurnId != expire.TurnId ||
            turn.SteppedAt >= expire.Before) return next;

        var written = FinishTools.CompleteAll(documents, state,
            waiting.Select(call => new ToolOutcome(call.Id, call.Name, false, "timeout", null, ExpireToolWaitsHandler.TimedOut, 0)).ToList());
        FinishTools.Continue(state, await sessions.RuntimeAsync(expire.SessionId, ct), written, documents, next);
        return next;
    }
}

/// <summary>CLIENT_TOOL_TIMEOUT_SECS: how long a turn waits for its client's tool results.</summary>
public sealed record ClientToolOptions(TimeSpan Timeout);
