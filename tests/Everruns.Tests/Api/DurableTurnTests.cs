using Everruns.Tests.Infrastructure;

namespace Everruns.Tests.Api;

/// <summary>A turn is durable: when the process running it dies, another instance finishes it.</summary>
public sealed class DurableTurnTests
{
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
            await api.PostMessageAsync(sessionId, string.Join(" ", Enumerable.Range(1, 30).Select(i => $"w{i}")));

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

            ((string)events.Last()["type"]!).ShouldBe("turn.completed", second.Output);
            events.Count(e => (string)e["type"]! == "turn.started").ShouldBe(1);
            events.Count(e => (string)e["type"]! == "output.message.completed").ShouldBe(1);
            events.Select(e => e["sequence"]!.GetValue<long>()).ShouldBe(Enumerable.Range(1, events.Count).Select(i => (long)i));
            // Nothing repeated by the second attempt: one message start, and the deltas spell the answer exactly once.
            events.Count(e => (string)e["type"]! == "output.message.started").ShouldBe(1);
            string.Concat(events.Where(e => (string)e["type"]! == "output.message.delta").Select(e => (string)e["data"]!["delta"]!))
                .ShouldBe((string)events.Single(e => (string)e["type"]! == "output.message.completed")["data"]!["message"]!["content"]![0]!["text"]!);
            ((string)events.Single(e => (string)e["type"]! == "output.message.completed")["data"]!["message"]!["content"]![0]!["text"]!)
                .ShouldBe("Echo: " + string.Join(" ", Enumerable.Range(1, 30).Select(i => $"w{i}")));
        }
        finally
        {
            await first.DisposeAsync();
            if (second is not null) await second.DisposeAsync();
        }
    }
}
