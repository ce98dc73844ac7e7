using Microsoft.AspNetCore.Authorization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Everruns.Contracts;
using Everruns.Infrastructure;
using Marten;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Npgsql;
using Wolverine.Http;

namespace Everruns.Modules.Identity;

public sealed record AuditEntry(long Id, DateTimeOffset At, string? OrgId, string Actor, string Action, string? Target, JsonObject Details);

/// <summary>
/// The append-only audit log of administrative actions (a trigger refuses UPDATE, DELETE and TRUNCATE). Other
/// modules publish <see cref="AuditAction"/> in the acting transaction; Identity's own actions write it directly.
/// </summary>
public static class AuditHandler
{
    public static void Handle(AuditAction action, IDocumentSession documents) =>
        documents.QueueSqlCommand(
            "insert into everruns.audit_log (at, org_id, actor, action, target, details) values (?, nullif(?, ''), ?, ?, nullif(?, ''), ?::jsonb)",
            action.At, action.OrgId ?? "", action.Actor, action.Action, action.Target ?? "",
            JsonSerializer.Serialize(action.Details ?? new Dictionary<string, string>()));
}

public static class AuditEndpoints
{
    /// <summary>The caller's org's log, newest first (org admins).</summary>
    [Authorize(Policy = Policies.OrgAdmin)]
    [WolverineGet("/v1/audit-log"), ProducesResponseType<Page<AuditEntry>>(StatusCodes.Status200OK)]
    public static async Task<IResult> OrgLog(HttpContext http, NpgsqlDataSource dataSource)
    {
        var caller = http.Caller();
        return await PageAsync(http, dataSource, caller.Org);
    }

    /// <summary>The whole deployment's log, including deployment-wide actions such as secret rotations (deployment admins).</summary>
    [Authorize(Policy = Policies.DeploymentAdmin)]
    [WolverineGet("/v1/admin/audit-log"), ProducesResponseType<Page<AuditEntry>>(StatusCodes.Status200OK)]
    public static async Task<IResult> AdminLog(HttpContext http, NpgsqlDataSource dataSource)
    {
        return await PageAsync(http, dataSource, null);
    }

    private static async Task<IResult> PageAsync(HttpContext http, NpgsqlDataSource dataSource, string? org)
    {
        var (paging, problem) = Query.Paging(http.Request);
        if (problem is not null) return Problems.Result(problem);
        await using var connection = await dataSource.OpenConnectionAsync(http.RequestAborted);
        var total = (int)(await connection.ScalarAsync<long>(
            "select count(*) from everruns.audit_log where $1::text is null or org_id = $1", http.RequestAborted, org));
        var entries = await connection.ListAsync("""
            select id, at, org_id, actor, action, target, details::text from everruns.audit_log
            where $1::text is null or org_id = $1 order by id desc offset $2 limit $3
            """,
            r => new AuditEntry(r.GetInt64(0), r.Time(1), r.NullableString(2), r.GetString(3), r.GetString(4), r.NullableString(5),
                JsonNode.Parse(r.GetString(6))!.AsObject()),
            http.RequestAborted, org, paging.Offset, paging.Limit);
        return Results.Ok(Page<AuditEntry>.Of(entries, total, paging, http.Request));
    }
}
