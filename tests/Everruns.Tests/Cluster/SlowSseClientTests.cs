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

    [Fact]
    public async Task streams_multiplexed_on_one_http2_connection_get_every_turn_and_keep_up_without_being_let_go()
    {
        var h2cPort = HostProcess.FreePort();
        await using var cluster = await Infrastructure.Cluster.StartAsync(nodes: 1, settings: new Dictionary<string, string>
        {
            ["H2C_PORT"] = h2cPort.ToString(),
        });
        var api = cluster.Api(0);
        var sessionId = (string)(await api.CreateSessionAsync())["id"]!;
        using var h2 = new HttpClient
        {
            BaseAddress = new Uri($"http://127.0.0.1:{h2cPort}"), Timeout = Timeout.InfiniteTimeSpan,
            DefaultRequestVersion = System.Net.HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        }.As(TestAuth.AdminToken);

        var streams = new List<SseClient>();
        try
        {
            for (var i = 0; i < 3; i++) streams.Add(await SseClient.OpenAsync(h2, $"/v1/sessions/{sessionId}/sse"));
            foreach (var sse in streams)
            {
                sse.Response.Version.ShouldBe(System.Net.HttpVersion.Version20);
                (await sse.NextAsync()).Event.ShouldBe("connected");
            }

            for (var turn = 0; turn < 5; turn++)
            {
                await api.PostMessageAsync(sessionId, $"over h2 {turn}");
                var seen = new List<List<SseEvent>>();
                foreach (var sse in streams) seen.Add(await sse.UntilAsync(f => f.Event == "turn.completed"));
                seen[0][0].Data.ShouldContain($"over h2 {turn}");
                foreach (var frames in seen) frames.Select(f => f.Id).ShouldBe(seen[0].Select(f => f.Id));
            }

            // Small events to clients that read: every write completed at once, so no stream went back to reading by itself.
            (await LaggingAsync(api)).ShouldBe(0);
        }
        finally
        {
            foreach (var sse in streams) await sse.DisposeAsync();
        }
    }

    private static Task<long> LaggingAsync(ApiClient api) => api.CounterAsync("everruns_sse_lagging_total");

    [Fact]
    public async Task the_instance_that_commits_a_sessions_events_writes_them_to_its_streams_without_reading_them_back_byte_for_byte()
    {
        // A process of its own: the counter is the whole process's.
        await using var cluster = await Infrastructure.Cluster.StartAsync(nodes: 1);
        var api = cluster.Api(0);
        var sessionId = (string)(await api.CreateSessionAsync())["id"]!;
        await using var live = await SseClient.OpenAsync(cluster.Nodes[0].Http, $"/v1/sessions/{sessionId}/sse");
        (await live.NextAsync()).Event.ShouldBe("connected");
        // And one that wants only turn ends (most events it is offered are none of its business, yet move it on).
        await using var ends = await SseClient.OpenAsync(cluster.Nodes[0].Http, $"/v1/sessions/{sessionId}/sse?types=turn.completed");
        (await ends.NextAsync()).Event.ShouldBe("connected");
        // The stream has joined its session's loop once the loop's first read (from where the stream stopped) is counted.
        await Eventually.Until(async () => await api.CounterAsync("everruns_sse_reads_total") > 0);
        // One turn first: in a process this young, the first events offered can take longer to shape than the loop
        // waits for them (it then reads them, as it would those of another instance).
        var seen = new List<SseEvent>();
        await api.PostMessageAsync(sessionId, "warming up");
        seen.AddRange(await live.UntilAsync(f => f.Event == "turn.completed", TimeSpan.FromSeconds(20)));
        (await ends.NextAsync(TimeSpan.FromSeconds(20))).Id.ShouldBe(seen[^1].Id);
        await Task.Delay(500);
        var before = await api.CounterAsync("everruns_sse_reads_total");

        const int turns = 3;
        for (var i = 0; i < turns; i++)
        {
            await api.PostMessageAsync(sessionId, $"turn {i}: é \"quoted\" <b>&amp;</b> 🙂 \\ end");
            seen.AddRange(await live.UntilAsync(f => f.Event == "turn.completed", TimeSpan.FromSeconds(20)));
            (await ends.NextAsync(TimeSpan.FromSeconds(20))).Id.ShouldBe(seen[^1].Id);
        }

        await Task.Delay(500); // any read the notifications still cause
        // Every event of those turns was committed by this instance: none was read back for the stream (a turn commits twice,
        // each commit notifying each of its events; each notification used to cost a read).
        seen.Count.ShouldBeGreaterThanOrEqualTo(5 * (turns + 1));
        (await api.CounterAsync("everruns_sse_reads_total") - before).ShouldBe(0);

        // A stream that reads the same events from the store gets the same bytes.
        await using var replay = await SseClient.OpenAsync(cluster.Nodes[0].Http, $"/v1/sessions/{sessionId}/sse");
        (await replay.NextAsync()).Event.ShouldBe("connected");
        var completed = 0;
        var read = await replay.UntilAsync(f => f.Event == "turn.completed" && ++completed == turns + 1, TimeSpan.FromSeconds(20));
        read.Select(f => (f.Event, f.Id, f.Data)).ShouldBe(seen.Select(f => (f.Event, f.Id, f.Data)));
    }

    [Fact]
    public async Task a_sessions_live_loop_on_another_instance_reads_once_per_commit_not_once_per_event()
    {
        await using var cluster = await Infrastructure.Cluster.StartAsync(nodes: 2);
        var writer = cluster.Api(0);
        var reader = cluster.Api(1);
        var sessionId = (string)(await writer.CreateSessionAsync())["id"]!;
        await using var sse = await SseClient.OpenAsync(cluster.Nodes[1].Http, $"/v1/sessions/{sessionId}/sse");
        (await sse.NextAsync()).Event.ShouldBe("connected");
        // The stream has joined its session's loop once the loop's first read (from where the stream stopped) is counted.
        await Eventually.Until(async () => await reader.CounterAsync("everruns_sse_reads_total") > 0);
        var before = await reader.CounterAsync("everruns_sse_reads_total");

        const int turns = 3;
        var events = 0;
        for (var i = 0; i < turns; i++)
        {
            await writer.PostMessageAsync(sessionId, $"turn {i}");
            events += (await sse.UntilAsync(f => f.Event == "turn.completed", TimeSpan.FromSeconds(20))).Count;
        }

        await Task.Delay(500); // any read the last notifications still cause
        // A turn commits twice, each commit notifying every event it wrote (about six a turn): the first read after a commit
        // takes all of that commit's events, so the notifications of the others cause none.
        events.ShouldBeGreaterThanOrEqualTo(5 * turns);
        (await reader.CounterAsync("everruns_sse_reads_total") - before).ShouldBeInRange(1, 2 * turns);
    }
}
