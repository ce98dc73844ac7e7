using System.Diagnostics;
using System.Net;
using Everruns.Tests.Infrastructure;

namespace Everruns.Tests.Api;

public sealed class SseLimitTests
{
    [Fact]
    public async Task sse_streams_over_the_per_session_or_per_instance_cap_get_429()
    {
        await using var database = await TestDatabase.CreateAsync("everruns_sselimit");
        var url = database.Url;
        // 6 streams for 3 instances: 2 on this one. 2 per session.
        await using var host = await TestHost.StartAsync(url, settings: new Dictionary<string, string>
        {
            ["SSE_MAX_CONNECTIONS"] = "6", ["EXPECTED_INSTANCES"] = "3", ["SSE_MAX_CONNECTIONS_PER_SESSION"] = "1",
        });
        var api = new ApiClient(host.Server.CreateClient());
        var first = (string)(await api.CreateSessionAsync())["id"]!;
        var second = (string)(await api.CreateSessionAsync())["id"]!;
        var third = (string)(await api.CreateSessionAsync())["id"]!;

        await using var a = await SseClient.OpenAsync(api.Http, $"/v1/sessions/{first}/sse");
        (await a.NextAsync()).Event.ShouldBe("connected");

        var sameSession = await api.GetAsync($"/v1/sessions/{first}/sse");
        sameSession.ShouldBeProblem(HttpStatusCode.TooManyRequests, "sse_limit_session");
        sameSession.Headers.RetryAfter.ShouldNotBeNull();

        await using (var b = await SseClient.OpenAsync(api.Http, $"/v1/sessions/{second}/sse"))
        {
            (await b.NextAsync()).Event.ShouldBe("connected");
            (await api.GetAsync($"/v1/sessions/{third}/sse")).ShouldBeProblem(HttpStatusCode.TooManyRequests, "sse_limit_global");
        }

        // A closed stream frees its place.
        await Eventually.Until(async () => (await TryOpen(api, third)) == HttpStatusCode.OK);
    }

    private static async Task<HttpStatusCode> TryOpen(ApiClient api, string sessionId)
    {
        await using var sse = await SseClient.OpenAsync(api.Http, $"/v1/sessions/{sessionId}/sse");
        return sse.Response.StatusCode;
    }
}

public sealed class DatabaseOutageTests
{
    [Fact]
    public async Task while_the_database_refuses_connections_requests_fail_fast_with_503_and_recover_after()
    {
        await using var database = await TestDatabase.CreateAsync("everruns_outage");
        await using var host = await TestHost.StartAsync(database.Url);
        var api = new ApiClient(host.Server.CreateClient());
        var agent = await api.CreateAgentAsync();
        var sessionId = (string)(await api.CreateSessionAsync())["id"]!;

        await using (await database.RefuseConnectionsAsync())
        {
            (await api.PostAsync($"/v1/sessions/{sessionId}/messages", new { message = new { content = "while down" } }))
                .ShouldBeProblem(HttpStatusCode.ServiceUnavailable, "database_unavailable");
            var watch = Stopwatch.StartNew();
            var down = await api.GetAsync($"/v1/agents/{agent["id"]}");
            down.ShouldBeProblem(HttpStatusCode.ServiceUnavailable, "database_unavailable");
            down.Headers.RetryAfter.ShouldNotBeNull();
            watch.Elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(10));
            (await api.PostAsync("/v1/agents", new { name = Names.Unique("down"), system_prompt = "x" }))
                .ShouldBeProblem(HttpStatusCode.ServiceUnavailable, "database_unavailable");
            (await api.GetAsync("/health")).Status.ShouldBe(HttpStatusCode.OK);
            (await api.GetAsync("/health/ready")).Status.ShouldBe(HttpStatusCode.ServiceUnavailable);
        }

        // The instance recovers by itself.
        await Eventually.Until(async () => (await api.GetAsync($"/v1/agents/{agent["id"]}")).Status == HttpStatusCode.OK,
            TimeSpan.FromSeconds(20));

        (await api.GetAsync("/health/ready")).Status.ShouldBe(HttpStatusCode.OK);
        (await api.PostAsync("/v1/agents", new { name = Names.Unique("up"), system_prompt = "x" })).Status.ShouldBe(HttpStatusCode.Created);

        // The message refused while the database was down left nothing behind; one posted now runs.
        await api.PostMessageAsync(sessionId, "after");
        var events = await api.WaitForTurnsAsync(sessionId);
        events.Where(e => (string)e["type"]! == "input.message").Select(e => (string)e["data"]!["message"]!["content"]![0]!["text"]!)
            .ShouldBe(["after"]);
    }
}

public sealed class ManyStreamsTests
{
    [Fact]
    public async Task a_session_watched_by_a_hundred_and_twenty_streams_delivers_every_turn_whole_and_in_order_to_each()
    {
        await using var database = await TestDatabase.CreateAsync("everruns_manysse");
        await using var host = await TestHost.StartAsync(database.Url, settings: new Dictionary<string, string>
        {
            ["SSE_MAX_CONNECTIONS_PER_SESSION"] = "200",
        });
        var api = new ApiClient(host.Server.CreateClient());
        var sessionId = (string)(await api.CreateSessionAsync())["id"]!;

        // Over 100 streams: the session's loop gathers a turn's commits for a moment and writes them in fewer rounds.
        var streams = new List<SseClient>();
        try
        {
            for (var i = 0; i < 120; i++) streams.Add(await SseClient.OpenAsync(api.Http, $"/v1/sessions/{sessionId}/sse"));
            foreach (var sse in streams) (await sse.NextAsync()).Event.ShouldBe("connected");

            for (var turn = 1; turn <= 3; turn++)
            {
                await api.PostMessageAsync(sessionId, $"turn {turn}");
                var seen = new List<List<SseEvent>>();
                foreach (var sse in streams) seen.Add(await sse.UntilAsync(f => f.Event == "turn.completed"));
                var first = seen[0];
                first.Select(f => f.Event).ShouldBe(["input.message", "turn.started", "output.message.started", "output.message.delta",
                    "llm.generation", "output.message.completed", "turn.completed"]);
                first[0].Data.ShouldContain($"turn {turn}");
                foreach (var frames in seen) frames.Select(f => f.Id).ShouldBe(first.Select(f => f.Id));
            }

            var all = (await api.EventsAsync(sessionId)).Select(e => (string)e["id"]!).ToList();
            all.Count.ShouldBe(21); // three turns of seven events
        }
        finally
        {
            foreach (var sse in streams) await sse.DisposeAsync();
        }
    }
}
