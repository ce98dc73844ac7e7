using System.Diagnostics;
using System.Net;
using Everruns.Tests.Infrastructure;

namespace Everruns.Tests.Cluster;

/// <summary>ops/Caddyfile in front of three instances: the API and live SSE work through the balancer.</summary>
public sealed class LoadBalancerTests
{
    [SkippableFact]
    public async Task the_whole_happy_path_works_through_caddy_round_robin_including_live_sse()
    {
        var caddy = FindCaddy();
        Skip.If(caddy is null, "caddy is not installed (Debian: apt-get install caddy); .ci/run installs it");

        await using var cluster = await Infrastructure.Cluster.StartAsync();
        var lbPort = HostProcess.FreePort();
        var start = new ProcessStartInfo(caddy!, ["run", "--config", Path.Combine(PostgresServer.RepositoryRoot, "ops", "Caddyfile"), "--adapter", "caddyfile"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["LB_PORT"] = lbPort.ToString();
        start.Environment["EVERRUNS_UPSTREAMS"] = string.Join(" ", cluster.Nodes.Select(n => $"127.0.0.1:{n.Port}"));
        start.Environment["HOME"] = Path.GetTempPath();
        using var lb = Process.Start(start)!;
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{lbPort}"), Timeout = TimeSpan.FromSeconds(30) };
            var deadline = DateTime.UtcNow.AddSeconds(20);
            while (true)
            {
                try
                {
                    if ((await http.GetAsync("/health")).StatusCode == HttpStatusCode.OK) break;
                }
                catch (HttpRequestException) when (DateTime.UtcNow < deadline)
                {
                }

                if (DateTime.UtcNow > deadline) throw new TimeoutException("caddy did not come up");
                await Task.Delay(200);
            }

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
        finally
        {
            lb.Kill(entireProcessTree: true);
            await lb.WaitForExitAsync();
        }
    }

    private static string? FindCaddy() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, "caddy")).FirstOrDefault(File.Exists);
}
