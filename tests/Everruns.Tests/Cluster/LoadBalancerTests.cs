using System.Net;
using Everruns.Tests.Infrastructure;

namespace Everruns.Tests.Cluster;

/// <summary>ops/Caddyfile in front of three instances: the API and live SSE work through the balancer.</summary>
public sealed class LoadBalancerTests
{
    [SkippableFact]
    public async Task the_whole_happy_path_works_through_caddy_round_robin_including_live_sse()
    {
        Skip.If(Caddy.Binary is null, Caddy.Missing);

        await using var cluster = await Infrastructure.Cluster.StartAsync();
        await using var caddy = await Caddy.StartAsync(cluster.Nodes);
        using var http = new HttpClient { BaseAddress = caddy.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        {
            var api = new ApiClient(http);
            var agent = await api.CreateAgentAsync(capabilities: new[] { new { @ref = "current_time" } });
            var sessionId = (string)(await api.CreateSessionAsync(new { agent_id = (string)agent["id"]! }))["id"]!;

            await using var sse = await SseClient.OpenAsync(http, $"/v1/sessions/{sessionId}/sse");
            (await sse.NextAsync()).Event.ShouldBe("connected");
            // Round robin: consecutive requests land on different instances; every one of them works.
            var servedBy = new HashSet<string>();
            for (var i = 0; i < 6; i++)
            {
                var response = await api.GetAsync($"/v1/sessions/{sessionId}");
                response.Status.ShouldBe(HttpStatusCode.OK);
                servedBy.Add(response.Headers.GetValues("X-Everruns-Instance").Single());
            }

            servedBy.Count.ShouldBe(3);
            await api.PostMessageAsync(sessionId, "through the balancer");
            var frames = await sse.UntilAsync(f => f.Event == "turn.completed");
            ((string)frames.Single(f => f.Event == "output.message.completed").Json["data"]!["message"]!["content"]![0]!["text"]!)
                .ShouldBe("Echo: through the balancer");
            frames.Count(f => f.Event == "output.message.delta").ShouldBeGreaterThan(0);
        }
    }
}
