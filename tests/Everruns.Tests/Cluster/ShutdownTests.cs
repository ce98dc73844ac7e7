using System.Net;
using Everruns.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Everruns.Tests.Cluster;

/// <summary>SIGTERM drains an instance: readiness 503 at once, SSE told to reconnect, turns handed on, exit 0.</summary>
public sealed class ShutdownTests
{
    [Fact]
    public async Task sigterm_drains_the_instance_and_another_finishes_its_turn()
    {
        await using var cluster = await Infrastructure.Cluster.StartAsync(nodes: 2, settings: new Dictionary<string, string>
        {
            ["OFFLINE_MODEL_CHUNK_DELAY_MS"] = "100",
            ["SHUTDOWN_GRACE_SECS"] = "2",
            ["SHUTDOWN_DRAIN_SECS"] = "1",
        });
        var draining = cluster.Nodes[0];
        var api = cluster.Api(0);
        var sessionId = (string)(await api.CreateSessionAsync())["id"]!;
        await using var sse = await SseClient.OpenAsync(draining.Http, $"/v1/sessions/{sessionId}/sse");
        (await sse.NextAsync()).Event.ShouldBe("connected");

        // A turn of about 8 s, well past the 2 s grace, started on the draining node.
        var words = string.Join(" ", Enumerable.Range(1, 80).Select(i => $"w{i}"));
        await api.PostMessageAsync(sessionId, words);
        await sse.UntilAsync(f => f.Event == "output.message.delta");

        draining.Terminate();
        var disconnecting = (await sse.UntilAsync(f => f.Event == "disconnecting", TimeSpan.FromSeconds(10))).Last();
        ((string)disconnecting.Json["reason"]!).ShouldBe("server_maintenance");

        (await draining.WaitForExitAsync(TimeSpan.FromSeconds(30))).ShouldBeTrue(draining.Output);
        draining.ExitCode.ShouldBe(0, draining.Output);
        // The turn outlived the grace period: it was handed on, not finished here or lost.
        draining.Output.ShouldContain("handed to another instance");
        draining.Output.ShouldContain("draining for 1 s before stopping the listeners");

        var events = await cluster.Api(1).WaitForTurnsAsync(sessionId, within: TimeSpan.FromSeconds(60));
        events.ShouldBeOneWholeTurn(words, cluster.Nodes[1].Output);
        // The surviving node ran the step the drained one sent again: it came from the inbox, with nothing handed over.
        (await cluster.Api(1).CounterAsync("everruns_steps_resumed_total")).ShouldBeGreaterThanOrEqualTo(1);
    }

    /// <summary>A lone instance restarting (a one-replica deploy): the next process resumes the handed-off turn as it starts.</summary>
    [Fact]
    public async Task a_turn_handed_off_with_no_other_instance_is_resumed_by_the_next_one_at_start()
    {
        await using var database = await TestDatabase.CreateAsync("everruns_restart");
        var settings = new Dictionary<string, string>
        {
            ["OFFLINE_MODEL_CHUNK_DELAY_MS"] = "100",
            ["SHUTDOWN_GRACE_SECS"] = "1",
        };
        var words = string.Join(" ", Enumerable.Range(1, 60).Select(i => $"w{i}"));
        string sessionId;
        await using (var first = HostProcess.Start(database.Url, settings))
        {
            await first.WaitUntilReadyAsync(TimeSpan.FromSeconds(90));
            var api = new ApiClient(first.Http);
            sessionId = (string)(await api.CreateSessionAsync())["id"]!;
            await api.PostMessageAsync(sessionId, words);
            await Eventually.Until(async () => (await api.EventsAsync(sessionId)).Any(e => (string)e["type"]! == "output.message.delta"));
            first.Terminate();
            (await first.WaitForExitAsync(TimeSpan.FromSeconds(30))).ShouldBeTrue(first.Output);
        }

        // Left in Wolverine's inbox, released by the drained process to whichever takes it.
        (await PostgresServer.ScalarAsync<long>(database.Url,
            "select count(*) from wolverine.wolverine_incoming_envelopes where message_type like '%RunTurnStep%' and status = 'Incoming' and owner_id = 0"))
            .ShouldBe(1L);

        await using var next = HostProcess.Start(database.Url, settings);
        await next.WaitUntilReadyAsync(TimeSpan.FromSeconds(90));
        var events = await new ApiClient(next.Http).WaitForTurnsAsync(sessionId, within: TimeSpan.FromSeconds(30));
        events.ShouldBeOneWholeTurn(words, next.Output);
        (await new ApiClient(next.Http).CounterAsync("everruns_steps_resumed_total")).ShouldBe(1);
    }

    [Fact]
    public async Task a_stopping_instance_refuses_new_requests_but_stays_live()
    {
        await using var database = await TestDatabase.CreateAsync("everruns_refuse");
        var url = database.Url;
        // The drain keeps the stopping instance answering for a while, as a load balancer probing readiness needs.
        await using var host = await TestHost.StartAsync(url, settings: new Dictionary<string, string> { ["SHUTDOWN_DRAIN_SECS"] = "3" });
        var api = new ApiClient(host.Server.CreateClient());
        (await api.GetAsync("/v1/agents")).Status.ShouldBe(HttpStatusCode.OK);

        host.Services.GetRequiredService<Microsoft.Extensions.Hosting.IHostApplicationLifetime>().StopApplication();

        var refused = await api.GetAsync("/v1/agents");
        refused.ShouldBeProblem(HttpStatusCode.ServiceUnavailable, "shutting_down");
        refused.Headers.RetryAfter.ShouldNotBeNull();
        (await api.GetAsync("/health")).Status.ShouldBe(HttpStatusCode.OK);
        (await api.GetAsync("/health/ready")).Status.ShouldBe(HttpStatusCode.ServiceUnavailable);
        // Still draining a second later: refusing, and live.
        await Task.Delay(TimeSpan.FromSeconds(1));
        (await api.GetAsync("/v1/agents")).ShouldBeProblem(HttpStatusCode.ServiceUnavailable, "shutting_down");
        (await api.GetAsync("/health")).Status.ShouldBe(HttpStatusCode.OK);
    }
}
