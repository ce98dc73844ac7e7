using Everruns.Contracts;
using Everruns.Modules.Events;
using Everruns.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Everruns.Tests.Cluster;

/// <summary>The <c>roll_up_metrics</c> maintenance job, run by hand on a host whose own runs are an hour apart.</summary>
public sealed class MetricsRollUpTests
{
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
