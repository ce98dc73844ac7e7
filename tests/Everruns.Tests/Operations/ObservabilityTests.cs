using System.Globalization;
using System.Net;
using Everruns.Tests.Infrastructure;

namespace Everruns.Tests.Operations;

/// <summary>
/// What operators see of a real host process: metrics, h2c, logs. Metrics are checked here, in a process of their own:
/// test hosts sharing a process export each other's meters of the same name, and one stopping takes the series away.
/// </summary>
public sealed class ProcessObservabilityTests
{
    [Fact]
    public async Task a_host_serves_h2c_for_load_balancers_exports_prometheus_metrics_and_never_logs_secrets()
    {
        await using var database = await TestDatabase.CreateAsync("everruns_h2c");
        var url = database.Url;
        // The local cluster trusts loopback, so a password in the URL is accepted and must never be printed.
        var withPassword = new UriBuilder(url) { UserName = "postgres", Password = "pw-Zq81-never-logged" }.Uri.ToString();
        var h2cPort = HostProcess.FreePort();
        await using var host = HostProcess.Start(withPassword, new Dictionary<string, string>
        {
            ["H2C_PORT"] = h2cPort.ToString(),
            ["OPENAI_API_KEY"] = "sk-Zq81-never-logged",
            ["LOG_LEVEL"] = "Debug",
        });
        await host.WaitUntilReadyAsync(TimeSpan.FromSeconds(90));

        using var h2 = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{h2cPort}") };
        using var request = new HttpRequestMessage(HttpMethod.Get, "/health")
        {
            Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        using var response = await h2.SendAsync(request);
        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        response.Version.ShouldBe(HttpVersion.Version20);
        (await host.Http.GetAsync("/health")).Version.ShouldBe(HttpVersion.Version11);

        var api = new ApiClient(host.Http);
        var before = await ScrapeAsync(api);
        var sessionId = (string)(await api.CreateSessionAsync())["id"]!;
        await api.PostMessageAsync(sessionId, "hello");
        await api.WaitForTurnsAsync(sessionId);
        (await host.Http.GetAsync("/nope")).StatusCode.ShouldBe(HttpStatusCode.NotFound);

        // Metrics: Prometheus text that moves when a turn runs.
        var after = await ScrapeAsync(api);
        Sum(after, "everruns_turns_completed_total").ShouldBeGreaterThan(Sum(before, "everruns_turns_completed_total"));
        Sum(after, "everruns_events_written_total").ShouldBeGreaterThan(Sum(before, "everruns_events_written_total"));
        Sum(after, "everruns_task_claimed_total").ShouldBeGreaterThan(Sum(before, "everruns_task_claimed_total"));
        // The request-duration histogram carries route and status.
        after.Keys.ShouldContain(k => k.StartsWith("http_server_request_duration_seconds_bucket{") &&
                                      k.Contains("http_route=\"/v1/sessions/{id}/messages\"") && k.Contains("http_response_status_code=\"201\""));
        after.Keys.ShouldContain(k => k.StartsWith("db_client_connections_usage"));
        // Durable messages by queue and outcome, from Wolverine's meter.
        after.Keys.ShouldContain(k => k.StartsWith("wolverine_messages_succeeded_Messages_total{") &&
                                      k.Contains("message_type=\"Everruns.Modules.Execution.RunTurnStep\""));

        host.Output.ShouldNotContain("pw-Zq81-never-logged");
        host.Output.ShouldNotContain("sk-Zq81-never-logged");
        host.Output.ShouldContain("dbug:"); // LOG_LEVEL=Debug took effect, so there was plenty to leak into
    }

    /// <summary>Parses the exposition format strictly: every sample line is <c>name{labels} value</c> with a numeric value.</summary>
    private static async Task<Dictionary<string, double>> ScrapeAsync(ApiClient api)
    {
        var response = await api.GetAsync("/metrics");
        response.Status.ShouldBe(HttpStatusCode.OK);
        response.MediaType.ShouldBe("text/plain");
        var samples = new Dictionary<string, double>();
        foreach (var line in response.Text.Split('\n'))
        {
            if (line.Length == 0 || line.StartsWith('#')) continue;
            var space = line.LastIndexOf(' ');
            var head = line[..space];
            var value = line[(space + 1)..];
            // An optional timestamp follows the value in the exposition format.
            if (head.LastIndexOf('}') < head.LastIndexOf(' ') && head.Contains(' '))
            {
                value = head[(head.LastIndexOf(' ') + 1)..];
                head = head[..head.LastIndexOf(' ')];
            }

            head.ShouldMatch(@"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})?$", line);
            double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number).ShouldBeTrue(line);
            samples[head] = number;
        }

        samples.ShouldNotBeEmpty();
        return samples;
    }

    private static double Sum(Dictionary<string, double> samples, string name) =>
        samples.Where(s => s.Key == name || s.Key.StartsWith(name + "{")).Sum(s => s.Value);
}
