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
}
