using Everruns.Contracts;
using Everruns.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Npgsql;
using Wolverine.Http;

namespace Everruns.Modules.Events;

/// <summary>
/// GET /v1/sessions/{id}/events/summary — the session's events counted by type in one group-by of the store (no event is
/// loaded): <c>total</c>, <c>by_type</c> (sorted by type), <c>turn_count</c> (<c>turn.started</c>), <c>error_count</c>
/// (<c>turn.failed</c>, <c>tool.failed</c>, <c>subagent.failed</c> and any <c>*.error</c>), <c>first_ts</c>/<c>last_ts</c>.
/// </summary>
public static class EventsSummaryEndpoint
{
    public sealed record TypeCount(string EventType, long Count);

    public sealed record EventsSummary(long Total, IReadOnlyList<TypeCount> ByType, long TurnCount, long ErrorCount,
        DateTimeOffset? FirstTs, DateTimeOffset? LastTs);

    private static readonly HashSet<string> FailureTypes = [EventTypes.TurnFailed, "tool.failed", "subagent.failed"];

    public static bool IsError(string type) => FailureTypes.Contains(type) || type.EndsWith(".error", StringComparison.Ordinal);

    [WolverineGet("/v1/sessions/{id}/events/summary"), ProducesResponseType<EventsSummary>(StatusCodes.Status200OK)]
    public static async Task<IResult> Get(string id, HttpRequest http, ISessionDirectory sessions, NpgsqlDataSource dataSource, CancellationToken ct)
    {
        if (await InputRules.ExistingSession(sessions, http.Caller().Org, id, ct) is { } missing) return Problems.Result(missing);

        // Ordered by the type's bytes (collate "C"), as a client sorting the names would.
        await using var cmd = dataSource.CreateCommand("""
            select type, count(*), min(timestamp), max(timestamp) from everruns.mt_events
            where stream_id = @s group by type order by type collate "C"
            """);
        cmd.Parameters.AddWithValue("s", id);
        var byType = new List<TypeCount>();
        DateTimeOffset? first = null, last = null;
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                byType.Add(new TypeCount(reader.GetString(0), reader.GetInt64(1)));
                var (min, max) = (reader.GetFieldValue<DateTimeOffset>(2), reader.GetFieldValue<DateTimeOffset>(3));
                if (first is null || min < first) first = min;
                if (last is null || max > last) last = max;
            }
        }

        return Results.Ok(new EventsSummary(
            byType.Sum(t => t.Count), byType,
            byType.Where(t => t.EventType == EventTypes.TurnStarted).Sum(t => t.Count),
            byType.Where(t => IsError(t.EventType)).Sum(t => t.Count),
            first, last));
    }
}
