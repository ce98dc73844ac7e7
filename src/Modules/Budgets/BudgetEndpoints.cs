using System.Text.Json.Nodes;
using Everruns.Contracts;
using Everruns.Infrastructure;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Wolverine;
using Wolverine.Http;

namespace Everruns.Modules.Budgets;

public sealed record CreateBudgetRequest(string? SubjectType, string? SubjectId, string? Currency, double? Limit, double? SoftLimit,
    JsonNode? Period, JsonNode? Metadata);

public sealed record TopUpRequest(double? Amount, string? Description);

/// <summary>A budget's changes; <see cref="SoftLimit"/> sent as null removes the soft limit (absent: unchanged).</summary>
public sealed record UpdateBudgetRequest(double? Limit, System.Text.Json.JsonElement SoftLimit, string? Status, JsonNode? Metadata);

/// <summary>A budget as the API shows it (amounts in its currency).</summary>
public sealed record BudgetResponse(
    string Id, string OrganizationId, string SubjectType, string SubjectId, string Currency, double Limit, double? SoftLimit, double Balance,
    JsonNode? Period, DateTimeOffset? PeriodStartedAt, JsonNode? Metadata, string Status, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    public static BudgetResponse From(Budget b) => new(b.Id, b.OrgId, b.SubjectType, b.SubjectId, b.Currency, (double)b.Limit,
        (double?)b.SoftLimit, (double)b.Balance, null, null, b.Metadata, b.Status, b.CreatedAt, b.UpdatedAt);
}

/// <summary>What a model call under a session's (or one) budget would be told now, and why.</summary>
public sealed record BudgetCheckResult(string Action, string? Message, string? BudgetId, double? Balance, string? Currency, string? ErrorCode);

public sealed record ResumeSessionResponse(int ResumedBudgets, string SessionId);

/// <summary>
/// <c>/v1/budgets</c> and a session's budgets, check and resume, as the Everruns SDKs call them (lists are bare arrays).
/// Members read; org admins create, change, top up and remove. Subjects: <c>session</c>, <c>agent</c>, <c>organization</c>
/// (the caller's org); currencies: <c>tokens</c>, <c>credits</c> (a thousand tokens) and <c>usd</c> (at MODEL_PRICES).
/// </summary>
public static class BudgetEndpoints
{
    [Authorize(Policy = Policies.OrgAdmin)]
    [WolverinePost("/v1/budgets"), ProducesResponseType<BudgetResponse>(StatusCodes.Status201Created)]
    public static async Task<IResult> Create(CreateBudgetRequest? request, BudgetStore store, ISessionDirectory sessions, IAgentDirectory agents,
        HttpRequest http)
    {
        if (request is null) return Problems.Result(Problems.BadRequest("invalid_body", "the request body must be a JSON object"));
        var org = http.Caller().Org;
        var ct = http.HttpContext.RequestAborted;
        var subjectType = request.SubjectType == "org" ? "organization" : request.SubjectType;
        if (subjectType is not ("session" or "agent" or "organization"))
            return Problems.Result(Problems.BadRequest("invalid_subject_type", "subject_type is one of session, agent, organization"));
        if (string.IsNullOrEmpty(request.SubjectId)) return Problems.Result(Problems.BadRequest("invalid_subject_id", "subject_id is required"));
        var exists = subjectType switch
        {
            "session" => (await InputRules.LiveSession(sessions, org, request.SubjectId, ct)).Problem is null,
            "agent" => Ids.IsValid(request.SubjectId, Ids.Agent) && await agents.FindAsync(org, request.SubjectId, null, ct) is not null,
            _ => request.SubjectId == org,
        };
        if (!exists)
            return Problems.Result(Problems.BadRequest("subject_not_found", $"{subjectType} {request.SubjectId} is not in this organization"));
        if (request.Currency is not ("usd" or "tokens" or "credits"))
            return Problems.Result(Problems.BadRequest("invalid_currency", $"currency is one of {BudgetStore.Currencies}"));
        if (Amounts(request.Limit, request.SoftLimit, required: true) is { } invalid) return Problems.Result(invalid);
        if (request.Period is not null)
            return Problems.Result(Problems.BadRequest("unsupported_field", "period is not supported by this server yet: budgets here do not reset"));

        var budget = await store.CreateAsync(org, subjectType, request.SubjectId, request.Currency, (decimal)request.Limit!.Value,
            (decimal?)request.SoftLimit, request.Metadata, ct);
        return Results.Created($"/v1/budgets/{budget.Id}", BudgetResponse.From(budget));
    }

    [WolverineGet("/v1/budgets"), ProducesResponseType<List<BudgetResponse>>(StatusCodes.Status200OK)]
    public static async Task<IResult> List(BudgetStore store, HttpRequest http)
    {
        var type = http.Query["subject_type"].ToString();
        var subject = http.Query["subject_id"].ToString();
        var budgets = await store.ListAsync(http.Caller().Org, type.Length == 0 ? null : type == "org" ? "organization" : type,
            subject.Length == 0 ? null : subject, http.HttpContext.RequestAborted);
        return Results.Ok(budgets.Select(BudgetResponse.From).ToList());
    }

    [WolverineGet("/v1/budgets/{id}"), ProducesResponseType<BudgetResponse>(StatusCodes.Status200OK)]
    public static async Task<IResult> Get(string id, BudgetStore store, HttpRequest http) =>
        await store.GetAsync(http.Caller().Org, id, http.HttpContext.RequestAborted) is { } budget
            ? Results.Ok(BudgetResponse.From(budget))
            : Problems.Result(NotFound(id));

    /// <summary>limit, soft_limit (null removes it), status (<c>active</c>, <c>paused</c>, <c>disabled</c>), metadata.</summary>
    [Authorize(Policy = Policies.OrgAdmin)]
    [WolverinePatch("/v1/budgets/{id}"), ProducesResponseType<BudgetResponse>(StatusCodes.Status200OK)]
    public static async Task<IResult> Patch(string id, UpdateBudgetRequest? request, BudgetStore store, HttpRequest http)
    {
        if (request is null) return Problems.Result(Problems.BadRequest("invalid_body", "the request body must be a JSON object"));
        var softGiven = request.SoftLimit.ValueKind != System.Text.Json.JsonValueKind.Undefined;
        if (softGiven && request.SoftLimit.ValueKind is not (System.Text.Json.JsonValueKind.Number or System.Text.Json.JsonValueKind.Null))
            return Problems.Result(Problems.BadRequest("invalid_soft_limit", "soft_limit is a number, or null to remove it"));
        double? soft = request.SoftLimit.ValueKind == System.Text.Json.JsonValueKind.Number ? request.SoftLimit.GetDouble() : null;
        if (request.Status is not (null or "active" or "paused" or "disabled"))
            return Problems.Result(Problems.BadRequest("invalid_status", "status is one of active, paused, disabled"));
        var existing = await store.GetAsync(http.Caller().Org, id, http.HttpContext.RequestAborted);
        if (existing is null) return Problems.Result(NotFound(id));
        if (Amounts(request.Limit ?? (double)existing.Limit, softGiven ? soft : (double?)existing.SoftLimit, required: false) is { } invalid)
            return Problems.Result(invalid);
        var updated = await store.UpdateAsync(http.Caller().Org, id, (decimal?)request.Limit, softGiven, (decimal?)soft, request.Status,
            request.Metadata, http.HttpContext.RequestAborted);
        return updated is null ? Problems.Result(NotFound(id)) : Results.Ok(BudgetResponse.From(updated));
    }

    [Authorize(Policy = Policies.OrgAdmin)]
    [WolverineDelete("/v1/budgets/{id}"), ProducesResponseType(StatusCodes.Status204NoContent)]
    public static async Task<IResult> Delete(string id, BudgetStore store, HttpRequest http) =>
        await store.DisableAsync(http.Caller().Org, id, http.HttpContext.RequestAborted) ? Results.NoContent() : Problems.Result(NotFound(id));

    [Authorize(Policy = Policies.OrgAdmin)]
    [WolverinePost("/v1/budgets/{id}/top-up"), ProducesResponseType<BudgetResponse>(StatusCodes.Status200OK)]
    public static async Task<IResult> TopUp(string id, TopUpRequest? request, BudgetStore store, HttpRequest http)
    {
        if (request?.Amount is not { } amount || !double.IsFinite(amount) || amount <= 0)
            return Problems.Result(Problems.BadRequest("invalid_amount", "amount is required: a positive number, credited to the balance"));
        var budget = await store.TopUpAsync(http.Caller().Org, id, (decimal)amount, request.Description, http.HttpContext.RequestAborted);
        return budget is null ? Problems.Result(NotFound(id)) : Results.Ok(BudgetResponse.From(budget));
    }

    [WolverineGet("/v1/budgets/{id}/ledger"), ProducesResponseType<List<BudgetStore.LedgerEntry>>(StatusCodes.Status200OK)]
    public static async Task<IResult> Ledger(string id, BudgetStore store, HttpRequest http)
    {
        var (paging, problem) = Query.Paging(http, defaultLimit: 50, maxLimit: 500);
        if (problem is not null) return Problems.Result(problem);
        if (await store.GetAsync(http.Caller().Org, id, http.HttpContext.RequestAborted) is null) return Problems.Result(NotFound(id));
        return Results.Ok(await store.LedgerAsync(id, paging.Offset, paging.Limit, http.HttpContext.RequestAborted));
    }

    [WolverineGet("/v1/budgets/{id}/check"), ProducesResponseType<BudgetCheckResult>(StatusCodes.Status200OK)]
    public static async Task<IResult> Check(string id, BudgetStore store, HttpRequest http) =>
        await store.GetAsync(http.Caller().Org, id, http.HttpContext.RequestAborted) is { } budget
            ? Results.Ok(Result(BudgetStore.Check([budget])))
            : Problems.Result(NotFound(id));

    [WolverineGet("/v1/sessions/{id}/budgets"), ProducesResponseType<List<BudgetResponse>>(StatusCodes.Status200OK)]
    public static async Task<IResult> OfSession(string id, BudgetStore store, ISessionDirectory sessions, HttpRequest http)
    {
        var (problem, runtime) = await SessionAsync(sessions, http, id);
        if (problem is not null) return Problems.Result(problem);
        return Results.Ok((await store.OfSessionAsync(runtime!.OrgId, id, runtime.AgentId, http.HttpContext.RequestAborted)).Select(BudgetResponse.From).ToList());
    }

    [WolverineGet("/v1/sessions/{id}/budget-check"), ProducesResponseType<BudgetCheckResult>(StatusCodes.Status200OK)]
    public static async Task<IResult> CheckSession(string id, BudgetStore store, ISessionDirectory sessions, HttpRequest http)
    {
        var (problem, runtime) = await SessionAsync(sessions, http, id);
        if (problem is not null) return Problems.Result(problem);
        return Results.Ok(Result(BudgetStore.Check(await store.OfSessionAsync(runtime!.OrgId, id, runtime.AgentId, http.HttpContext.RequestAborted))));
    }

    /// <summary>Makes the session's paused budgets active again; a turn paused on them goes on (<see cref="ResumeBudgetPausedTurn"/>).</summary>
    [WolverinePost("/v1/sessions/{id}/resume"), ProducesResponseType<ResumeSessionResponse>(StatusCodes.Status200OK)]
    public static async Task<IResult> Resume(string id, BudgetStore store, ISessionDirectory sessions, IMessageBus bus, HttpRequest http)
    {
        var (problem, runtime) = await SessionAsync(sessions, http, id);
        if (problem is not null) return Problems.Result(problem);
        var resumed = await store.ResumeAsync(runtime!.OrgId, id, runtime.AgentId, http.HttpContext.RequestAborted);
        await bus.InvokeAsync(new ResumeBudgetPausedTurn(runtime.OrgId, id, resumed.Select(b =>
            new BudgetEventData(b.Id, (double)b.Balance, (double)b.Limit, b.Currency, (double?)b.SoftLimit, "Budget resumed.")).ToList()),
            http.HttpContext.RequestAborted);
        return Results.Ok(new ResumeSessionResponse(resumed.Count, id));
    }

    private static async Task<(ProblemDetails? Problem, SessionRuntime? Runtime)> SessionAsync(ISessionDirectory sessions, HttpRequest http, string id)
    {
        var (problem, _) = await InputRules.LiveSession(sessions, http.Caller().Org, id, http.HttpContext.RequestAborted);
        if (problem is not null) return (problem, null);
        var runtime = await sessions.RuntimeAsync(id, http.HttpContext.RequestAborted);
        return runtime is null ? (Problems.NotFound("session_not_found", $"session {id} not found"), null) : (null, runtime);
    }

    private static BudgetCheckResult Result((string Action, Budget? Budget) check)
    {
        if (check.Budget is not { } b) return new BudgetCheckResult(check.Action, null, null, null, null, null);
        var (message, code) = check.Action switch
        {
            BudgetReservation.Stop => ($"Budget exhausted: {b.Spent} {b.Currency} spent of the {b.Limit} {b.Currency} limit.", "budget_exhausted"),
            BudgetReservation.Pause => ($"Budget paused: {b.Spent} {b.Currency} spent passed the soft limit of {b.SoftLimit} {b.Currency}.", "budget_paused"),
            _ => ($"Budget running low: {b.Balance} {b.Currency} of {b.Limit} left.", (string?)null),
        };
        return new BudgetCheckResult(check.Action, message, b.Id, (double)b.Balance, b.Currency, code);
    }

    private static ProblemDetails? Amounts(double? limit, double? soft, bool required)
    {
        if (limit is not { } l || !double.IsFinite(l) || l <= 0)
            return Problems.BadRequest("invalid_limit", required ? "limit is required: a positive number" : "limit must be a positive number");
        if (soft is { } s && (!double.IsFinite(s) || s <= 0 || s > l))
            return Problems.BadRequest("invalid_soft_limit", "soft_limit must be a positive number no greater than limit");
        return null;
    }

    private static ProblemDetails NotFound(string id) => Problems.NotFound("budget_not_found", $"budget {id} not found");
}
