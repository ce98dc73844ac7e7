using System.Text.Json;
using Everruns.Contracts;
using Everruns.Infrastructure;
using Marten;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Wolverine;
using Wolverine.Http;

namespace Everruns.Modules.Sessions;

/// <summary>
/// POST /v1/sessions/{id}/fork body: every field optional; one left out is the parent's. <c>up_to_sequence</c> (this
/// server's extension) forks at that event of the parent: its events up to it are copied (all when left out).
/// </summary>
public sealed record ForkSessionRequest(
    string? Title = null,
    List<string?>? Tags = null,
    string? ModelId = null,
    string? AgentId = null,
    string? Locale = null,
    string? SystemPrompt = null,
    long? UpToSequence = null);

/// <summary>
/// POST /v1/sessions/{id}/fork → 201: a new session of the caller's, with the parent's settings (every field of the
/// session document: agent, model, prompt, capabilities, tools, limits...) but for the request's overrides, the parent's
/// stored events up to the fork point (sequenced 1..N as they were, fresh ids, their context and data kept: the fork's
/// next turn sees that conversation), and a new workspace holding a copy of the parent's files. Its
/// <c>forked_from_session_id</c>/<c>forked_from_sequence</c> name the parent and the last event copied. It starts
/// <c>started</c>, with no usage of its own (the parent's turns are not counted again).
/// <para>
/// The parent's write turn is held while the fork is made, so no event lands in between. A parent with a turn running
/// (or waiting for its client's tool results, or paused on a budget) is 409 <c>session_busy</c> unless
/// <c>up_to_sequence</c> names a point before it; a point inside a turn (after a <c>turn.started</c> whose end is not
/// copied), between a user's message and the start of its turn, or past the parent's last event, is 400
/// <c>invalid_up_to_sequence</c>. With <c>agent_id</c>, the fork takes
/// that agent's prompt, default model, limits, capabilities and tools, as opening a session with it would (the request's
/// own values still win); its own capabilities and tools are the parent's.
/// </para>
/// </summary>
public static class ForkSessionEndpoint
{
    public static ProblemDetails Validate(ForkSessionRequest? request)
    {
        if (request is null) return WolverineContinue.NoProblems;
        if (request.AgentId is not null && !Ids.IsValid(request.AgentId, Ids.Agent))
            return Problems.BadRequest("invalid_agent_id", $"'{request.AgentId}' is not an agent id (agent_<32 hex>)");
        if (request.UpToSequence is < 0)
            return UpToSequence("up_to_sequence must be 0 or more");
        return InputRules.First(
                   InputRules.Tags(request.Tags),
                   request.Title is { Length: > 500 } ? Problems.BadRequest("invalid_title", "title is at most 500 characters") : null)
               ?? WolverineContinue.NoProblems;
    }

    private static ProblemDetails UpToSequence(string detail)
    {
        var problem = Problems.BadRequest("invalid_up_to_sequence", detail);
        problem.Extensions["path"] = "$.up_to_sequence";
        return problem;
    }

    [WolverinePost("/v1/sessions/{id}/fork"), Idempotent, ProducesResponseType<SessionResponse>(StatusCodes.Status201Created)]
    public static async Task<IResult> Post(string id, ForkSessionRequest? request, IDocumentSession documents, IAgentDirectory agents,
        IModelDirectory models, ISessionEventForks events, IWorkspaceDirectory workspaces, IHarnessDirectory harnesses, IMessageBus bus,
        HttpRequest http)
    {
        request ??= new ForkSessionRequest();
        var ct = http.HttpContext.RequestAborted;
        if (SessionLookup.Id(id) is { } invalid) return Problems.Result(invalid);
        var caller = http.Caller();

        AgentSnapshot? agent = null;
        if (request.AgentId is not null)
        {
            agent = await agents.FindAsync(caller.Org, request.AgentId, null, ct);
            if (agent is null) return Problems.Result(Problems.NotFound("agent_not_found", $"agent {request.AgentId} not found"));
            if (agent.Status != "active") return Problems.Result(Problems.Conflict("agent_archived", $"agent {agent.Id} is archived"));
        }

        // Another agent brings its own harness (as opening a session with it would).
        HarnessSnapshot? harness = null;
        if (agent is not null)
        {
            (harness, var harnessProblem) = await Session.HarnessOfAsync(harnesses, caller.Org, agent.HarnessId, agent, ct);
            if (harnessProblem is not null) return Problems.Result(harnessProblem);
        }

        if (await InputRules.Model(models, caller.Org, request.ModelId, ct) is { } unknownModel) return Problems.Result(unknownModel);

        // The parent's write turn, for the rest of this transaction: its events and state stay as read until the fork commits.
        await SessionStream.LockAsync(documents, id, ct);
        var parent = await SessionLookup.Live(documents, id);
        if (parent is null) return Problems.Result(SessionLookup.NotFound(id));
        if (agent?.Tools is { Count: > 0 } agentTools && InputRules.ClientTools(parent.Tools, agentTools) is { } clash)
            return Problems.Result(clash);

        // Every field of the parent's document, then what the fork changes.
        var fork = JsonSerializer.Deserialize<Session>(JsonSerializer.Serialize(parent))!;
        var now = DateTimeOffset.UtcNow;
        fork.Id = Ids.New(Ids.Session);
        fork.OwnerId = caller.UserId;
        fork.Title = request.Title ?? (parent.Title is null ? null : $"{parent.Title} (fork)");
        if (request.Tags is not null) fork.Tags = request.Tags.Select(t => t!).Distinct().ToList();
        if (agent is not null)
        {
            fork.RunOn(harness!, agent);
            fork.ModelId ??= parent.ModelId;
            fork.ParallelToolCalls ??= parent.ParallelToolCalls;
        }

        fork.ModelId = request.ModelId ?? fork.ModelId;
        fork.SystemPrompt = request.SystemPrompt ?? fork.SystemPrompt;
        fork.Locale = request.Locale ?? fork.Locale;
        fork.CreatedAt = fork.UpdatedAt = now;
        fork.DeletedAt = null;
        fork.ForkedFromSessionId = parent.Id;

        // The events first: a refusal there has written nothing.
        var point = await events.CopyAsync(documents, parent.Id, fork.Id, request.UpToSequence, ct);
        if (request.UpToSequence is { } upTo && upTo > point.Head)
            return Problems.Result(UpToSequence($"up_to_sequence {upTo} is past the last event of session {id} ({point.Head})"));
        if (point.InsideTurn)
            return Problems.Result(request.UpToSequence is null
                ? Problems.Conflict("session_busy", $"session {id} has a turn running: fork it when the turn ends, or at an event before it (up_to_sequence)")
                : UpToSequence($"up_to_sequence {request.UpToSequence} is inside the turn started at sequence {point.OpenTurnStartedAt}: " +
                               "fork before that turn.started or at (or after) the event that ended it"));
        if (point.SplitsInput)
            return Problems.Result(request.UpToSequence is null
                ? Problems.Conflict("session_busy", $"session {id} has a message waiting for its turn: fork it when that turn ends")
                : UpToSequence($"up_to_sequence {request.UpToSequence} comes after the message at sequence {point.WaitingInputAt} " +
                               "but before its turn started: fork before that message, or after its turn"));
        fork.ForkedFromSequence = point.Through;
        fork.WorkspaceId = await workspaces.CopyForForkAsync(documents, caller.Org, fork.Id, parent.WorkspaceId, ct);
        documents.Store(fork);
        await bus.PublishAsync(new SessionOpened(fork.Id, caller.Org, fork.AgentId));
        await bus.PublishAsync(new AuditAction(caller.Org, caller.Actor, "session.forked", fork.Id,
            new Dictionary<string, string> { ["parent_session_id"] = parent.Id, ["forked_from_sequence"] = point.Through.ToString() }));

        var response = SessionResponse.From(fork, null, http) with { IsPinned = false }; // no turn of its own yet
        IdempotencyKeys.Record(http.HttpContext, documents, StatusCodes.Status201Created, response.SelfUrl, response);
        return Results.Created(response.SelfUrl, response);
    }
}
