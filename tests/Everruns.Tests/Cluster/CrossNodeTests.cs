using System.Net;
using Everruns.Tests.Infrastructure;

namespace Everruns.Tests.Cluster;

/// <summary>Three instances, one database: nothing depends on which instance a request lands on.</summary>
public sealed class CrossNodeTests
{
    [Fact]
    public async Task sse_clients_on_every_node_see_a_turn_run_from_another_node_and_any_node_can_cancel_it()
    {
        await using var cluster = await Infrastructure.Cluster.StartAsync(settings: new Dictionary<string, string>
        {
            ["OFFLINE_MODEL_CHUNK_DELAY_MS"] = "50",
        });
        var a = cluster.Api(0);
        var sessionId = (string)(await a.CreateSessionAsync())["id"]!;

        await using var onB = await SseClient.OpenAsync(cluster.Nodes[1].Http, $"/v1/sessions/{sessionId}/sse");
        await using var onC = await SseClient.OpenAsync(cluster.Nodes[2].Http, $"/v1/sessions/{sessionId}/sse");
        (await onB.NextAsync()).Event.ShouldBe("connected");
        (await onC.NextAsync()).Event.ShouldBe("connected");

        await a.PostMessageAsync(sessionId, "seen everywhere");
        var seenOnB = await onB.UntilAsync(f => f.Event == "turn.completed");
        var seenOnC = await onC.UntilAsync(f => f.Event == "turn.completed");
        seenOnB.Select(f => f.Id).ShouldBe(seenOnC.Select(f => f.Id));
        seenOnB.Select(f => f.Sequence).ShouldBe(Enumerable.Range(1, seenOnB.Count).Select(i => (long)i));
        ((string)seenOnB.Single(f => f.Event == "output.message.completed").Json["data"]!["message"]!["content"]![0]!["text"]!)
            .ShouldBe("Echo: seen everywhere");

        // A long turn posted through B, cancelled through C, watched on A.
        await using var onA = await SseClient.OpenAsync(cluster.Nodes[0].Http, $"/v1/sessions/{sessionId}/sse?since_id={seenOnB.Last().Id}");
        (await onA.NextAsync()).Event.ShouldBe("connected");
        await cluster.Api(1).PostMessageAsync(sessionId, string.Join(" ", Enumerable.Range(1, 200).Select(i => $"w{i}")));
        await onA.UntilAsync(f => f.Event == "output.message.delta");
        var cancel = await cluster.Api(2).PostAsync($"/v1/sessions/{sessionId}/cancel");
        cancel.Status.ShouldBe(HttpStatusCode.OK, cancel.Text);
        ((string)cancel.Object["status"]!).ShouldBe("cancelled");
        var tail = await onA.UntilAsync(f => f.Event is "turn.cancelled" or "turn.completed");
        tail.Last().Event.ShouldBe("turn.cancelled");
    }
}
