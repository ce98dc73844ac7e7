using Everruns.Tests.Infrastructure;

namespace Everruns.Tests.Api;

/// <summary>A turn is durable: when the process running it dies, another instance finishes it.</summary>
public sealed class DurableTurnTests
{
    /// <summary>A message whose echo the offline model streams in 30 chunks (OFFLINE_MODEL_CHUNK_DELAY_MS apart).</summary>
    private static readonly string Words = string.Join(" ", Enumerable.Range(1, 30).Select(i => $"w{i}"));

    [Fact]
    public async Task a_turn_interrupted_by_a_crash_is_completed_by_another_instance()
    {
        await using var database = await TestDatabase.CreateAsync("everruns_crash");
        var url = database.Url;
        var settings = new Dictionary<string, string>
        {
            ["OFFLINE_MODEL_CHUNK_DELAY_MS"] = "200",
            ["NODE_HEALTH_CHECK_SECS"] = "1",
            ["NODE_STALE_SECS"] = "3",
        };
        var first = HostProcess.Start(url, settings);
        HostProcess? second = null;
        try
        {
            await first.WaitUntilReadyAsync(TimeSpan.FromSeconds(90));
            var api = new ApiClient(first.Http);
            var sessionId = (string)(await api.CreateSessionAsync())["id"]!;
            await api.PostMessageAsync(sessionId, Words);

            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (!(await api.EventsAsync(sessionId)).Any(e => (string)e["type"]! == "output.message.delta"))
            {
                if (DateTime.UtcNow > deadline) throw new TimeoutException("the turn never started streaming:\n" + first.Output);
                await Task.Delay(100);
            }

            first.Kill(); // no graceful shutdown: the step's inbox envelope stays claimed by a dead node

            second = HostProcess.Start(url, settings);
            await second.WaitUntilReadyAsync(TimeSpan.FromSeconds(90));
            var survivor = new ApiClient(second.Http);
            var events = await survivor.WaitForTurnsAsync(sessionId, within: TimeSpan.FromSeconds(90));

            events.ShouldBeOneWholeTurn(Words, second.Output);
            (await survivor.CounterAsync("everruns_steps_resumed_total")).ShouldBe(1);
        }
        finally
        {
            await first.DisposeAsync();
            if (second is not null) await second.DisposeAsync();
        }
    }

    /// <summary>
    /// A step claimed by a live instance that does not hold it (its in-memory hand-off lost) is taken over after
    /// INBOX_STALE_SECS, while a step an instance runs for longer than that keeps its claim.
    /// </summary>
    [Fact]
    public async Task a_step_stranded_on_a_live_instance_is_taken_over_and_run_once()
    {
        await using var database = await TestDatabase.CreateAsync("everruns_stranded");
        var url = database.Url;
        var settings = new Dictionary<string, string>
        {
            ["OFFLINE_MODEL_CHUNK_DELAY_MS"] = "200", // the step runs about 6 s, three times INBOX_STALE_SECS
            ["NODE_HEALTH_CHECK_SECS"] = "1",
            // The dead instance's own claims are taken over after 3 s (and its share of the cluster's agents, such as
            // the durability pass, may be the one that releases stale claims); the step's claim is the live instance's by then.
            ["NODE_STALE_SECS"] = "3",
            ["INBOX_STALE_SECS"] = "2",
        };
        var first = HostProcess.Start(url, new Dictionary<string, string>(settings) { ["INSTANCE_ID"] = "strand-a" });
        var live = HostProcess.Start(url, new Dictionary<string, string>(settings) { ["INSTANCE_ID"] = "strand-b" });
        var other = HostProcess.Start(url, new Dictionary<string, string>(settings) { ["INSTANCE_ID"] = "strand-c" });
        try
        {
            await Task.WhenAll(first.WaitUntilReadyAsync(TimeSpan.FromSeconds(90)), live.WaitUntilReadyAsync(TimeSpan.FromSeconds(90)),
                other.WaitUntilReadyAsync(TimeSpan.FromSeconds(90)));
            var api = new ApiClient(first.Http);
            var sessionId = (string)(await api.CreateSessionAsync())["id"]!;
            await api.PostMessageAsync(sessionId, Words);
            await Eventually.Until(async () => (await api.EventsAsync(sessionId)).Any(e => (string)e["type"]! == "output.message.delta"));

            // The instance running the step dies, and its claim passes to a live instance that never had the step:
            // the state a lost hand-off leaves behind.
            first.Kill();
            var moved = await PostgresServer.ScalarAsync<long>(url, """
                with nodes as (
                    select i.instance_id, n.node_number from everruns_ops.instances i join wolverine.wolverine_nodes n on n.id = i.node_id),
                moved as (
                    update wolverine.wolverine_incoming_envelopes e set owner_id = (select node_number from nodes where instance_id = 'strand-b')
                    where e.status = 'Incoming' and e.owner_id = (select node_number from nodes where instance_id = 'strand-a')
                    returning 1)
                select count(*) from moved
                """);
            moved.ShouldBeGreaterThan(0L); // the step (and anything else the dead instance had not handled yet)

            List<System.Text.Json.Nodes.JsonObject> events;
            try
            {
                events = await new ApiClient(live.Http).WaitForTurnsAsync(sessionId, within: TimeSpan.FromSeconds(60));
            }
            catch (TimeoutException e)
            {
                throw new TimeoutException($"{e.Message}\n--- live:\n{live.Output}\n--- other:\n{other.Output}");
            }

            events.ShouldBeOneWholeTurn(Words, live.Output + other.Output);
            // Counted where it ran: a step read back from the store, not handed over by its sender.
            (await new ApiClient(live.Http).CounterAsync("everruns_steps_resumed_total") +
             await new ApiClient(other.Http).CounterAsync("everruns_steps_resumed_total")).ShouldBe(1);
            await Eventually.Until(async () => await PostgresServer.ScalarAsync<long>(url,
                "select count(*) from wolverine.wolverine_incoming_envelopes where status = 'Incoming'") == 0);
        }
        finally
        {
            await first.DisposeAsync();
            await live.DisposeAsync();
            await other.DisposeAsync();
        }
    }
}
