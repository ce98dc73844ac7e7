using Microsoft.AspNetCore.Authorization;
using System.Text.Json.Nodes;
using Everruns.Contracts;
using Everruns.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Wolverine.Http;
using Wolverine.Persistence.Durability;
using Wolverine.Persistence.Durability.DeadLetterManagement;
using Wolverine.Runtime;

namespace Everruns.Modules.Cluster;

/// <summary>
/// The dead-letter queue (Wolverine's, in PostgreSQL): what still lands there is a bug, never a transient failure, and
/// its turn already failed. GET /v1/durable/dlq lists it in the Everruns API's shape; POST .../{id}/retry replays an
/// entry (Wolverine moves it back to the inbox at its next durability pass, and any instance runs it); DELETE .../{id} discards it
/// (not in the public API, which has no way to discard). Deployment admins only.
/// </summary>
public static class DeadLetterEndpoints
{
    /// <summary>The most entries a list reads: the queue holds bugs, not traffic.</summary>
    public const int MaxRead = 10_000;

    public sealed record DlqEntryResponse(
        Guid Id, Guid OriginalTaskId, string ActivityId, string ActivityType, JsonNode Input, int Attempts, string LastError,
        IReadOnlyList<string> ErrorHistory, DateTimeOffset DeadAt, Guid? WorkflowId);

    /// <summary>The queue's entries, oldest first.</summary>
    public sealed record DlqPage(IReadOnlyList<DlqEntryResponse> Data, int Total);

    [Authorize(Policy = Policies.DeploymentAdmin)]
    [WolverineGet("/v1/durable/dlq"), ProducesResponseType<DlqPage>(StatusCodes.Status200OK)]
    public static async Task<IResult> List(IWolverineRuntime runtime, HttpContext http, CancellationToken ct)
    {
        var (paging, problem) = Query.Paging(http.Request, defaultLimit: 100, maxLimit: 1000);
        if (problem is not null) return Problems.Result(problem);
        Guid? workflow = null;
        if (http.Request.Query["workflow_id"] is { Count: > 0 } raw)
        {
            if (!Guid.TryParse(raw.ToString(), out var parsed))
                return Problems.Result(Problems.BadRequest("invalid_workflow_id", "workflow_id must be a UUID"));
            workflow = parsed;
        }

        var activityType = http.Request.Query["activity_type"] is { Count: > 0 } type ? type.ToString() : null;
        var read = await runtime.Storage.DeadLetters.QueryAsync(new DeadLetterEnvelopeQuery { PageSize = MaxRead }, ct);
        var entries = read.Envelopes.Select(Entry)
            .Where(e => workflow is null || e.WorkflowId == workflow)
            .Where(e => activityType is null || e.ActivityType == activityType)
            .OrderBy(e => e.DeadAt).ToList();
        return Results.Ok(new DlqPage(entries.Skip(paging.Offset).Take(paging.Limit).ToList(), entries.Count));
    }

    /// <summary>Answers the entry's task id (the message keeps its id when replayed) as plain text, as the API does.</summary>
    [Authorize(Policy = Policies.DeploymentAdmin)]
    [WolverinePost("/v1/durable/dlq/{dlq_id}/retry"), ProducesResponseType<string>(StatusCodes.Status200OK, "text/plain")]
    public static async Task<IResult> Retry(string dlq_id, IWolverineRuntime runtime, HttpContext http, CancellationToken ct)
    {
        if (await FindAsync(runtime, dlq_id) is not { } id) return NotFound(dlq_id);
        await runtime.Storage.DeadLetters.MarkDeadLetterEnvelopesAsReplayableAsync([id]);
        return Results.Text(id.ToString(), "text/plain");
    }

    [Authorize(Policy = Policies.DeploymentAdmin)]
    [WolverineDelete("/v1/durable/dlq/{dlq_id}"), ProducesResponseType(StatusCodes.Status204NoContent)]
    public static async Task<IResult> Discard(string dlq_id, IWolverineRuntime runtime, HttpContext http, CancellationToken ct)
    {
        if (await FindAsync(runtime, dlq_id) is not { } id) return NotFound(dlq_id);
        await runtime.Storage.DeadLetters.DiscardAsync(new DeadLetterEnvelopeQuery([id]), ct);
        return Results.NoContent();
    }

    private static async Task<Guid?> FindAsync(IWolverineRuntime runtime, string raw) =>
        Guid.TryParse(raw, out var id) && await runtime.Storage.DeadLetters.DeadLetterEnvelopeByIdAsync(id) is { Replayable: false }
            ? id
            : null;

    private static IResult NotFound(string id) =>
        Problems.Result(Problems.NotFound("dlq_entry_not_found", $"no dead-letter entry {id} (or it is being retried already)"));

    private static DlqEntryResponse Entry(DeadLetterEnvelope dead)
    {
        var input = dead.Envelope.Data is { Length: > 0 } data
            ? JsonNode.Parse(data, new JsonNodeOptions { PropertyNameCaseInsensitive = true }) ?? new JsonObject()
            : new JsonObject();
        var turnId = (string?)(input as JsonObject)?["TurnId"];
        var error = $"{ShortName(dead.ExceptionType)}: {dead.ExceptionMessage}";
        return new DlqEntryResponse(dead.Id, dead.Id, turnId ?? dead.Id.ToString(), ShortName(dead.MessageType), input,
            dead.Envelope.Attempts, error, [error], dead.FailedAt ?? dead.SentAt, WorkflowIdOf(turnId));
    }

    /// <summary>A turn is the API's workflow: its id's 32 hex digits as a UUID.</summary>
    public static Guid? WorkflowIdOf(string? turnId) =>
        turnId is not null && Ids.IsValid(turnId, Ids.Turn) && Guid.TryParseExact(turnId[(Ids.Turn.Length + 1)..], "N", out var id)
            ? id
            : null;

    private static string ShortName(string type) => type[(type.LastIndexOf('.') + 1)..];
}
