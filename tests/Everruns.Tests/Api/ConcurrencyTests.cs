using Everruns.Tests.Infrastructure;

namespace Everruns.Tests.Api;

public sealed class ConcurrencyTests
{
    [Fact]
    public async Task slow_model_calls_of_many_sessions_run_at_once_on_one_instance()
    {
        await using var database = await TestDatabase.CreateAsync("everruns_concurrent");
        // Each answer streams word by word, 250 ms apart: a turn's model call takes a second or more.
        await using var host = await TestHost.StartAsync(database.Url, settings: new Dictionary<string, string>
        {
            ["OFFLINE_MODEL_CHUNK_DELAY_MS"] = "250",
        });
        var api = new ApiClient(host.Server.CreateClient());
        var sessions = new List<string>();
        for (var i = 0; i < 8; i++) sessions.Add((string)(await api.CreateSessionAsync())["id"]!);

        await Task.WhenAll(sessions.Select(s => api.PostMessageAsync(s, "one two three four five")));
        var turns = await Task.WhenAll(sessions.Select(s => api.WaitForTurnsAsync(s)));

        // Every model call started before the first one finished: none waited for a free handler.
        DateTimeOffset Ts(IEnumerable<System.Text.Json.Nodes.JsonObject> events, string type) =>
            DateTimeOffset.Parse((string)events.First(e => (string)e["type"]! == type)["ts"]!, System.Globalization.CultureInfo.InvariantCulture);
        var lastStart = turns.Max(events => Ts(events, "output.message.started"));
        var firstEnd = turns.Min(events => Ts(events, "output.message.completed"));
        lastStart.ShouldBeLessThan(firstEnd);
    }

    [Fact]
    public async Task a_small_pool_under_many_concurrent_messages_neither_stalls_nor_refuses_them()
    {
        await using var database = await TestDatabase.CreateAsync("everruns_pool");
        // Far more concurrent work than connections: handlers holding a session's lock must never wait for a second
        // connection, or they and the handlers waiting for that lock stall each other until the pool times out.
        await using var host = await TestHost.StartAsync(database.Url, settings: new Dictionary<string, string>
        {
            ["DATABASE_POOL_MAX"] = "6",
        });
        var api = new ApiClient(host.Server.CreateClient());
        var sessions = new List<string>();
        for (var i = 0; i < 24; i++) sessions.Add((string)(await api.CreateSessionAsync())["id"]!);

        await Task.WhenAll(sessions.Select(async s =>
        {
            for (var m = 0; m < 3; m++) await api.PostMessageAsync(s, $"message {m}"); // each must be 201, not 503
        }));
        foreach (var s in sessions)
        {
            var events = await api.WaitForTurnsAsync(s, turns: 3, within: TimeSpan.FromSeconds(60));
            events.Count(e => (string)e["type"]! == "turn.completed").ShouldBe(3);
        }
    }
}
