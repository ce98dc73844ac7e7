using Everruns.Contracts;
using Everruns.Modules.Events;
using Everruns.Modules.Sessions;
using Everruns.Tests.Infrastructure;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Everruns.Tests.Cluster;

/// <summary>Maintenance jobs' reads, run by hand on a host whose own runs are an hour apart: each reads what it needs, not whole tables.</summary>
public sealed class MaintenanceJobTests
{
    [Fact]
    public async Task the_purge_finds_deleted_sessions_through_an_index_of_deleted_sessions_only()
    {
        await using var database = await TestDatabase.CreateAsync("everruns_purge_index");
        await using var host = await TestHost.StartAsync(database.Url, settings: new Dictionary<string, string> { ["MAINTENANCE_INTERVAL_SECS"] = "3600" });
        var api = new ApiClient(host.Server.CreateClient());
        var sessions = new List<string>();
        for (var i = 0; i < 3; i++) sessions.Add((string)(await api.CreateSessionAsync())["id"]!);
        (await api.DeleteAsync($"/v1/sessions/{sessions[1]}")).Status.ShouldBe(System.Net.HttpStatusCode.NoContent);

        await using var query = host.Services.GetRequiredService<IDocumentStore>().QuerySession();
        var due = PurgeDeletedSessionsHandler.Due(query, DateTimeOffset.UtcNow.AddMinutes(1));
        (await due.ToListAsync()).Select(s => s.Id).ShouldBe([sessions[1]]);
        (await PurgeDeletedSessionsHandler.Due(query, DateTimeOffset.UtcNow.AddMinutes(-1)).ToListAsync()).ShouldBeEmpty();

        // The query the job sends can use the index (a table this small would otherwise be read whole anyway).
        await using var connection = new NpgsqlConnection(PostgresServer.ConnectionStringFor(database.Url));
        await connection.OpenAsync();
        await using (var off = new NpgsqlCommand("set enable_seqscan = off", connection)) await off.ExecuteNonQueryAsync();
        await using var explain = due.ToCommand();
        explain.CommandText = "explain " + explain.CommandText;
        explain.Connection = connection;
        var plan = new List<string>();
        await using (var reader = await explain.ExecuteReaderAsync())
            while (await reader.ReadAsync()) plan.Add(reader.GetString(0));
        string.Join("\n", plan).ShouldContain("mt_doc_session_idx_deleted_at");
        (await PostgresServer.ScalarAsync<string>(database.Url,
            "select indexdef from pg_indexes where indexname = 'mt_doc_session_idx_deleted_at'")).ShouldContain("WHERE ((data ->> 'deleted_at'::text) IS NOT NULL)");
    }

    [Fact]
    public async Task the_roll_up_recounts_the_current_minute_and_reads_only_the_events_after_the_mark_taken_five_minutes_before()
    {
        await using var database = await TestDatabase.CreateAsync("everruns_rollup");
        await using var host = await TestHost.StartAsync(database.Url, settings: new Dictionary<string, string> { ["MAINTENANCE_INTERVAL_SECS"] = "3600" });
        // The agent runs its jobs once when it starts: let that run finish first.
        await Eventually.Until(async () => await Scalar("select count(*) from everruns_ops.maintenance_runs where job = 'roll_up_metrics'") > 0,
            TimeSpan.FromSeconds(30));
        var api = new ApiClient(host.Server.CreateClient());
        var sessionId = (string)(await api.CreateSessionAsync())["id"]!;
        var dataSource = host.Services.GetRequiredService<NpgsqlDataSource>();
        const string Completed = "select coalesce(sum(count), 0)::bigint from everruns_ops.event_counts_minutely where event_type = 'turn.completed'";

        await TurnAsync(1);
        await TurnAsync(2);
        await RollUpAsync();
        (await Scalar(Completed)).ShouldBe(2);
        // Each run marks the newest event's sequence number.
        (await Scalar("select seq_id from everruns_ops.event_rollup_marks order by taken_at desc limit 1"))
            .ShouldBe(await Scalar("select max(seq_id) from everruns.mt_events"));

        await TurnAsync(3);
        await RollUpAsync();
        (await Scalar(Completed)).ShouldBe(3); // recounted, not added again

        // The bound: with the marks ten minutes old, a recount starts after the newest of them. All four turns are stamped
        // in the minute being recounted; a recount that read the whole table would count four.
        await PostgresServer.ExecuteAsync(database.Url, "update everruns_ops.event_rollup_marks set taken_at = taken_at - interval '10 minutes'");
        await TurnAsync(4);
        await PostgresServer.ExecuteAsync(database.Url, """
            update everruns.mt_events set timestamp = now();
            delete from everruns_ops.event_counts_minutely;
            insert into everruns_ops.event_counts_minutely values (date_trunc('minute', now()), 'turn.completed', 0);
            """);
        await RollUpAsync();
        (await Scalar(Completed)).ShouldBe(1);
        return;

        // The session's nth turn, run to its end.
        async Task TurnAsync(int nth)
        {
            await api.PostMessageAsync(sessionId, $"message {nth}");
            await api.WaitForTurnsAsync(sessionId, nth);
        }

        async Task RollUpAsync() =>
            await RollUpMetricsHandler.Handle(new RollUpMetrics(TimeSpan.FromDays(7)), dataSource, CancellationToken.None);

        Task<long> Scalar(string sql) => PostgresServer.ScalarAsync<long>(database.Url, sql);
    }
}
