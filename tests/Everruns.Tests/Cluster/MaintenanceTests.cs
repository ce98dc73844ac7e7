using Everruns.Tests.Infrastructure;

namespace Everruns.Tests.Cluster;

/// <summary>Leader-elected maintenance: exactly one node runs the jobs, and another takes over when it dies.</summary>
public sealed class MaintenanceTests
{
    [Fact]
    public async Task one_node_runs_the_maintenance_jobs_and_another_takes_over_when_it_is_killed()
    {
        await using var cluster = await Infrastructure.Cluster.StartAsync(settings: new Dictionary<string, string>
        {
            ["TURN_STALE_SECS"] = "3",
            ["SESSION_RETENTION_DAYS"] = "0.00002", // about 2 s
            ["METRICS_SAMPLE_SECS"] = "1",
        });
        var api = cluster.Api(0);

        // The leader assigns the maintenance agent to one node; the workers list shows all three.
        var runner = await Eventually.Value(async () =>
        {
            var workers = (await api.GetAsync("/v1/durable/workers")).Object["data"]!.AsArray();
            var running = workers.Where(w => (bool)w!["runs_maintenance"]!).ToList();
            return workers.Count(w => (string)w!["status"]! == "running") == 3 && running.Count == 1 ? (string)running[0]!["id"]! : null;
        }, TimeSpan.FromSeconds(60));
        var listed = (await api.GetAsync("/v1/durable/workers")).Object;
        var workers = listed["data"]!.AsArray();
        workers.Count(w => (bool)w!["is_leader"]!).ShouldBe(1);
        // The Everruns API's shape: each worker's required fields, and the summary.
        foreach (var worker in workers)
            foreach (var field in new[] { "id", "activity_types", "max_concurrency", "current_load", "status", "accepting_tasks",
                         "started_at", "last_heartbeat_at", "tasks_completed", "tasks_failed" })
                worker!.AsObject().ContainsKey(field).ShouldBeTrue(field);
        ((int)listed["summary"]!["active"]!).ShouldBe(3);
        ((int)listed["summary"]!["total_capacity"]!).ShouldBe(3 * 200);
        (await api.GetAsync("/v1/durable/workers?status=stopped")).Object["data"]!.AsArray().ShouldBeEmpty();
        // While nodes joined, the leader may have moved the agent; once settled, only the runner records runs.
        await Eventually.Value(async () =>
        {
            var since = DateTimeOffset.UtcNow;
            await Task.Delay(2500);
            var runners = await RunnersSince(cluster, since);
            return runners.SequenceEqual([runner]) ? "settled" : null;
        }, TimeSpan.FromSeconds(30));

        // Jobs do their work. A session deleted now is purged (document and events) within seconds...
        var purged = (string)(await api.CreateSessionAsync())["id"]!;
        await api.PostMessageAsync(purged, "soon gone");
        await api.WaitForTurnsAsync(purged);
        await api.DeleteAsync($"/v1/sessions/{purged}");
        // ...and a turn nobody works on any more (no heartbeat, no queued step) is failed so the session moves on.
        var stuck = (string)(await api.CreateSessionAsync())["id"]!;
        await api.PostMessageAsync(stuck, "finishes normally");
        await api.WaitForTurnsAsync(stuck);
        await PostgresServer.ExecuteAsync(cluster.DatabaseUrl, $$"""
            update everruns.mt_doc_sessionturns set data = jsonb_set(data, '{active}',
              '{"turn_id":"turn_00000000000000000000000000000bad","input_message_id":"message_x","input_text":"x","iteration":1,"phase":"Reasoning","started_at":"2020-01-01T00:00:00Z"}')
            where id = '{{stuck}}';
            -- As its start would have entered it among the running turns.
            insert into everruns.active_turns (session_id, turn_id, tenant_id, started_at)
            select id, 'turn_00000000000000000000000000000bad', tenant_id, '2020-01-01T00:00:00Z' from everruns.mt_doc_sessionturns where id = '{{stuck}}';
            """);

        await Eventually.Value(async () =>
            await PostgresServer.ScalarAsync<long>(cluster.DatabaseUrl,
                $"select count(*) from everruns.mt_events where stream_id = '{purged}'") == 0
            && await PostgresServer.ScalarAsync<long>(cluster.DatabaseUrl,
                $"select count(*) from everruns.mt_doc_session where id = '{purged}'") == 0 ? "purged" : null, TimeSpan.FromSeconds(30));
        var lost = await Eventually.Value(async () =>
            (await api.EventsAsync(stuck, "?types=turn.failed")).FirstOrDefault(), TimeSpan.FromSeconds(30));
        ((string)lost["data"]!["error_code"]!).ShouldBe("turn_lost");
        ((string)lost["data"]!["turn_id"]!).ShouldBe("turn_00000000000000000000000000000bad");
        // The roll-up counts the turns completed so far (the purged session's events may already be gone).
        await Eventually.Value(async () => await PostgresServer.ScalarAsync<long>(cluster.DatabaseUrl,
            "select coalesce(sum(count), 0)::bigint from everruns_ops.event_counts_minutely where event_type = 'turn.completed'") >= 1
            ? "rolled up" : null, TimeSpan.FromSeconds(10));

        // This instance's time series, with the instance count to scale by.
        var series = (await api.GetAsync("/v1/durable/metrics/timeseries")).Object;
        series["instance_count"]!.GetValue<int>().ShouldBe(3);
        series["resolution_seconds"]!.GetValue<long>().ShouldBe(1);
        var points = series["points"]!.AsArray();
        points.ShouldNotBeEmpty();
        foreach (var field in new[] { "timestamp", "running_workflows", "pending_workflows", "pending_tasks", "claimed_tasks",
                     "active_workers", "load_percentage", "dlq_size", "tasks_completed_total", "tasks_failed_total", "tasks_started_total",
                     "workflows_completed_total", "workflows_failed_total", "workflows_started_total" })
            points[^1]!.AsObject().ContainsKey(field).ShouldBeTrue(field);
        points[^1]!["active_workers"]!.GetValue<long>().ShouldBe(3);
        // Turns ran on this instance or another: the counters add up across the cluster's instances.
        (await Task.WhenAll(cluster.Nodes.Select(async n => (await new ApiClient(n.Http).GetAsync("/v1/durable/metrics/timeseries"))
            .Object["points"]!.AsArray()[^1]!["workflows_started_total"]!.GetValue<long>()))).Sum().ShouldBeGreaterThanOrEqualTo(2);

        // Kill -9 the node that runs the jobs: another node picks them up.
        var victim = cluster.Nodes.Single(n => n.InstanceId == runner);
        victim.Kill();
        (await victim.WaitForExitAsync(TimeSpan.FromSeconds(10))).ShouldBeTrue();
        var killedAt = DateTimeOffset.UtcNow;
        var survivor = cluster.Nodes.First(n => n != victim);
        var next = await Eventually.Value(async () =>
        {
            var runners = await RunnersSince(cluster, killedAt.AddSeconds(1));
            return runners.FirstOrDefault(r => r != runner);
        }, TimeSpan.FromSeconds(60));
        next.ShouldNotBe(runner);
        var after = (await new ApiClient(survivor.Http).GetAsync("/v1/durable/workers")).Object["data"]!.AsArray();
        var dead = after.Single(w => (string)w!["id"]! == runner)!;
        ((string)dead["status"]!).ShouldBe("stopped");
        ((bool)dead["stale"]!).ShouldBeTrue(); // it never said it stopped: silent past NODE_STALE_SECS

        // Kill -9 the leader among the two left: the last node is elected and runs the jobs.
        var leader = await Eventually.Value(async () =>
        {
            var list = (await new ApiClient(survivor.Http).GetAsync("/v1/durable/workers")).Object["data"]!.AsArray();
            return list.Where(w => (bool)w!["is_leader"]! && (string)w!["status"]! == "running").Select(w => (string)w!["id"]!).FirstOrDefault();
        }, TimeSpan.FromSeconds(60));
        var killedLeader = cluster.Nodes.Single(n => n.InstanceId == leader);
        killedLeader.Kill();
        (await killedLeader.WaitForExitAsync(TimeSpan.FromSeconds(10))).ShouldBeTrue();
        var leaderKilledAt = DateTimeOffset.UtcNow;
        var last = cluster.Nodes.Single(n => !n.HasExited);
        await Eventually.Value(async () =>
        {
            var list = (await new ApiClient(last.Http).GetAsync("/v1/durable/workers")).Object["data"]!.AsArray();
            var self = list.Single(w => (bool)w!["is_self"]!)!;
            return (bool)self["is_leader"]! && (await RunnersSince(cluster, leaderKilledAt.AddSeconds(1))).Contains(last.InstanceId!)
                ? "took over" : null;
        }, TimeSpan.FromSeconds(60));
    }

    private static async Task<List<string>> RunnersSince(Infrastructure.Cluster cluster, DateTimeOffset since)
    {
        var csv = await PostgresServer.ScalarAsync<string>(cluster.DatabaseUrl,
            $"select coalesce(string_agg(distinct instance_id, ','), '') from everruns_ops.maintenance_runs where started_at > '{since:O}'");
        return csv.Split(',', StringSplitOptions.RemoveEmptyEntries).ToList();
    }
}
