using Everruns.Tests.Infrastructure;

namespace Everruns.Tests.Api;

/// <summary>The reaper (maintenance job <c>reap_stale_turns</c>) and turns that take long.</summary>
public sealed class TurnReaperTests
{
    [Fact]
    public async Task a_turn_of_short_steps_that_lasts_longer_than_the_stale_limit_is_not_reaped()
    {
        await using var fake = await FakeOpenAi.StartAsync();
        await using var database = await TestDatabase.CreateAsync("everruns_reaper");
        // Each of the turn's two model calls takes 2.5 s: shorter than the heartbeat interval (5 s), so no heartbeat is
        // written, and shorter than the stale limit (4 s), while the turn takes over 5 s. The reaper runs every second.
        var settings = fake.ServerSettings();
        settings["TURN_STALE_SECS"] = "4";
        settings["MAINTENANCE_INTERVAL_SECS"] = "1";
        await using var host = await TestHost.StartAsync(database.Url, settings: settings);
        var api = new ApiClient(host.Server.CreateClient());
        const string ReaperRuns = "select count(*) from everruns_ops.maintenance_runs where job = 'reap_stale_turns' and error is null";
        await Eventually.Until(async () => await PostgresServer.ScalarAsync<long>(database.Url, ReaperRuns) > 0, TimeSpan.FromSeconds(30));
        var agent = await api.CreateAgentAsync(capabilities: new[] { new { @ref = "current_time" } });
        var sessionId = (string)(await api.CreateSessionAsync(new { agent_id = (string)agent["id"]!, model_id = "fake-small" }))["id"]!;

        var runsBefore = await PostgresServer.ScalarAsync<long>(database.Url, ReaperRuns);
        var started = DateTimeOffset.UtcNow;
        await api.PostMessageAsync(sessionId, "slowly: what time is it?");
        var events = await api.WaitForTurnsAsync(sessionId, within: TimeSpan.FromSeconds(60));

        var types = events.Select(e => (string)e["type"]!).ToList();
        types.Last().ShouldBe("turn.completed", string.Join(", ", types));
        types.ShouldNotContain("turn.failed");
        types.Count(t => t == "tool.completed").ShouldBe(1, string.Join(", ", types));
        (DateTimeOffset.UtcNow - started).ShouldBeGreaterThan(TimeSpan.FromSeconds(4)); // longer than the stale limit
        (await PostgresServer.ScalarAsync<long>(database.Url, ReaperRuns) - runsBefore).ShouldBeGreaterThanOrEqualTo(3); // the reaper looked meanwhile
    }
}
