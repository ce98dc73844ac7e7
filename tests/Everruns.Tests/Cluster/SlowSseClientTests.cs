using System.Net.Sockets;
using Everruns.Tests.Infrastructure;

namespace Everruns.Tests.Cluster;

/// <summary>A dashboard that stops reading must not hold up the others on its session, and loses nothing.</summary>
public sealed class SlowSseClientTests
{
    [Fact]
    public async Task a_stream_whose_client_stops_reading_does_not_hold_up_the_others_and_later_gets_every_event_in_order()
    {
        await using var cluster = await Infrastructure.Cluster.StartAsync(nodes: 1);
        var node = cluster.Nodes[0];
        var api = cluster.Api(0);
        var sessionId = (string)(await api.CreateSessionAsync())["id"]!;

        // The slow client: a real HTTP connection with a small receive window whose body nobody reads for now.
        using var slowHttp = new HttpClient(new SocketsHttpHandler
        {
            ConnectCallback = async (context, ct) =>
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
                await socket.ConnectAsync(context.DnsEndPoint, ct);
                return new NetworkStream(socket, ownsSocket: true);
            },
        }) { BaseAddress = node.BaseAddress, Timeout = Timeout.InfiniteTimeSpan }.As(TestAuth.AdminToken);
        var slowResponse = await slowHttp.SendAsync(new HttpRequestMessage(HttpMethod.Get, $"/v1/sessions/{sessionId}/sse"),
            HttpCompletionOption.ResponseHeadersRead);
        await using var fast = await SseClient.OpenAsync(node.Http, $"/v1/sessions/{sessionId}/sse");
        (await fast.NextAsync()).Event.ShouldBe("connected");

        // Big turns: more than the sockets' buffers hold (4 MiB at most on Linux), so that the server's writes to the
        // slow stream stop completing and it has to let that stream go; every turn still reaches the reading client.
        var big = string.Join(" ", Enumerable.Range(0, 20_000).Select(i => $"w{i % 1000:000}"))[..90_000];
        var turns = 0;
        long bytes = 0;
        while (bytes < 6_000_000 || await LaggingAsync(api) == 0)
        {
            (turns < 60).ShouldBeTrue("the slow stream never fell behind");
            await api.PostMessageAsync(sessionId, big);
            turns++;
            var frames = await fast.UntilAsync(f => f.Event == "turn.completed", TimeSpan.FromSeconds(20));
            bytes += frames.Sum(f => f.Data.Length);
        }

        // Two more turns while the slow client is behind: the reading one sees them as they happen.
        for (var i = 0; i < 2; i++)
        {
            await api.PostMessageAsync(sessionId, $"small {i}");
            turns++;
            var frames = await fast.UntilAsync(f => f.Event == "turn.completed", TimeSpan.FromSeconds(20));
            frames.Single(f => f.Event == "input.message").Json["data"]!.ToJsonString().ShouldContain($"small {i}");
        }

        // Now the slow client reads: everything, in order, nothing twice, up to the last turn's end.
        await using var slow = SseClient.Of(slowResponse);
        (await slow.NextAsync()).Event.ShouldBe("connected");
        var completed = 0;
        var all = await slow.UntilAsync(f => f.Event == "turn.completed" && ++completed == turns, TimeSpan.FromSeconds(60));
        all.Select(f => f.Sequence).ShouldBe(Enumerable.Range(1, all.Count).Select(i => (long)i));
        all.Single(f => f.Event == "input.message" && f.Data.Contains("small 1")).ShouldNotBeNull();
    }

    private static async Task<long> LaggingAsync(ApiClient api)
    {
        var metrics = await api.GetAsync("/metrics");
        var line = metrics.Text.Split('\n').FirstOrDefault(l => l.StartsWith("everruns_sse_lagging_total"));
        return line is null ? 0 : (long)double.Parse(line.Split(' ')[^1], System.Globalization.CultureInfo.InvariantCulture);
    }
}
