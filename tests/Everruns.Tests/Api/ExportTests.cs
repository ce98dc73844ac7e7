using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Everruns.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Everruns.Tests.Api;

/// <summary>
/// GET /v1/sessions/{id}/export streams a session as JSON Lines: a session of 100,000 events (some 150 MB exported)
/// goes out with the server's memory growing by a small fraction of that, measured on a server process of its own
/// (its peak resident memory, from /proc).
/// </summary>
public sealed class ExportTests(ITestOutputHelper output)
{
    private const int Copies = 100_000;
    private const int TextLength = 1_500;

    [Fact]
    public async Task a_session_of_100000_events_is_exported_line_by_line_in_bounded_memory()
    {
        await using var database = await TestDatabase.CreateAsync("everruns_export");
        // Workstation GC with a small allocation budget: the measure is what the export keeps alive, not the garbage a GC
        // tuned for throughput lets pile up between collections.
        await using var host = HostProcess.Start(database.Url, new Dictionary<string, string>
        {
            ["DOTNET_gcServer"] = "0", ["DOTNET_GCgen0size"] = "0x800000",
        });
        await host.WaitUntilReadyAsync();
        using var http = new HttpClient { BaseAddress = host.BaseAddress, Timeout = TimeSpan.FromMinutes(2) }.As(TestAuth.AdminToken);
        var api = new ApiClient(http);
        var sessionId = (string)(await api.CreateSessionAsync())["id"]!;
        await api.PostMessageAsync(sessionId, "hello");
        await api.WaitForTurnsAsync(sessionId);

        // A short session first (which also warms the export's code up before it is measured). The events format: one
        // stored event a line, as the events API shows them; the default one message a line, as the message list shows them.
        var short_ = (string)(await api.CreateSessionAsync())["id"]!;
        await api.PostMessageAsync(short_, "short");
        var events = await api.WaitForTurnsAsync(short_);
        var exported = await api.GetAsync($"/v1/sessions/{short_}/export?format=events");
        exported.Status.ShouldBe(HttpStatusCode.OK);
        var eventLines = exported.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        eventLines.Select(l => JsonNode.Parse(l)!.ToJsonString()).ShouldBe(events.Select(e => e.ToJsonString()));
        var messages = (await api.GetAsync($"/v1/sessions/{short_}/export")).Text.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
        var listed = (await api.GetAsync($"/v1/sessions/{short_}/messages")).Object["data"]!.AsArray();
        messages.Select(m => (string)m["id"]!).ShouldBe(listed.Select(m => (string)m!["id"]!));
        messages.Select(m => m["content"]!.ToJsonString()).ShouldBe(listed.Select(m => m!["content"]!.ToJsonString()));

        (await api.GetAsync($"/v1/sessions/{short_}/export?format=atif")).ShouldBeProblem(HttpStatusCode.BadRequest, "unsupported_format");
        (await api.GetAsync($"/v1/sessions/session_{Guid.NewGuid():N}/export")).ShouldBeProblem(HttpStatusCode.NotFound, "session_not_found");

        // 100,000 more agent messages of 1,500 characters each, written as the store keeps events (the app's own
        // notifications setting: no notification per row).
        await PostgresServer.ExecuteAsync(database.Url, $$"""
            begin;
            set local everruns.event_notifier = 'app';
            insert into everruns.mt_events (seq_id, id, stream_id, version, data, type, tenant_id, timestamp, mt_dotnet_type, headers, is_archived)
            select nextval('everruns.mt_events_sequence'), gen_random_uuid(), e.stream_id, s.version + g,
                   jsonb_set(jsonb_set(e.data, '{message,id}', to_jsonb('message_' || lpad(to_hex(g), 32, '0'))),
                             '{message,content}', jsonb_build_array(jsonb_build_object('type', 'text', 'text', 'answer ' || g || ' ' || repeat('x', {{TextLength}})))),
                   e.type, e.tenant_id, e.timestamp, e.mt_dotnet_type, e.headers, false
            from everruns.mt_events e join everruns.mt_streams s on s.id = e.stream_id, generate_series(1, {{Copies}}) g
            where e.stream_id = '{{sessionId}}' and e.type = 'output.message.completed';
            update everruns.mt_streams set version = version + {{Copies}} where id = '{{sessionId}}';
            commit;
            """);

        var before = Memory(host.ProcessId);
        var peakReset = TryResetPeak(host.ProcessId);
        using var response = await http.GetAsync($"/v1/sessions/{sessionId}/export", HttpCompletionOption.ResponseHeadersRead);
        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/x-ndjson");
        response.Content.Headers.ContentDisposition!.ToString().ShouldBe($"attachment; filename=\"{sessionId}.jsonl\"");

        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(), Encoding.UTF8);
        long lines = 0, bytes = 0, peakRss = before.Rss, lastSequence = 0;
        var first = new List<JsonObject>();
        while (await reader.ReadLineAsync() is { } line)
        {
            lines++;
            bytes += Encoding.UTF8.GetByteCount(line) + 1;
            if (first.Count < 3) first.Add(JsonNode.Parse(line)!.AsObject());
            if (lines % 5_000 == 0)
            {
                peakRss = Math.Max(peakRss, Memory(host.ProcessId).Rss);
                var sequence = JsonNode.Parse(line)!["sequence"]!.GetValue<long>();
                sequence.ShouldBeGreaterThan(lastSequence); // in order
                lastSequence = sequence;
            }
        }

        var after = Memory(host.ProcessId);
        var peak = Math.Max(peakRss, peakReset ? after.Hwm : Math.Max(after.Hwm - before.Hwm + before.Rss, after.Rss));

        // One line per message: the user's, the agent's answer, the 100,000 copies.
        lines.ShouldBe(Copies + 2);
        bytes.ShouldBeGreaterThan((long)Copies * TextLength);
        ((string)first[0]["role"]!).ShouldBe("user");
        ((string)first[0]["session_id"]!).ShouldBe(sessionId);
        ((string)first[0]["content"]![0]!["text"]!).ShouldBe("hello");
        first[0]["sequence"]!.GetValue<long>().ShouldBe(1);
        first[0]["created_at"].ShouldNotBeNull();
        ((string)first[0]["id"]!).ShouldStartWith("message_");
        ((string)first[1]["role"]!).ShouldBe("agent");
        ((string)first[2]["content"]![0]!["text"]!).ShouldStartWith("answer 1 xxx");

        // Streamed: the server grew by a fraction of what it sent (holding it would take more than its size, several times
        // over as JSON objects); what it grew by is mostly garbage of the pages between collections (27 to 46 MiB measured here
        // for a 167 MiB export; half the export's size leaves room for a slower machine's collector).
        var growth = peak - before.Rss;
        output.WriteLine($"exported {bytes / 1_048_576} MiB; resident before {before.Rss / 1_048_576} MiB, peak {peak / 1_048_576} MiB (peak reset: {peakReset})");
        growth.ShouldBeLessThan(bytes / 2, $"peak {peak / 1_048_576} MiB, before {before.Rss / 1_048_576} MiB, exported {bytes / 1_048_576} MiB");

    }

    /// <summary>The process's resident memory now and at its peak (bytes), from /proc/{pid}/status.</summary>
    private static (long Rss, long Hwm) Memory(int pid)
    {
        long Field(string[] lines, string name) =>
            long.Parse(lines.Single(l => l.StartsWith(name + ":")).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        var status = File.ReadAllLines($"/proc/{pid}/status");
        return (Field(status, "VmRSS"), Field(status, "VmHWM"));
    }

    /// <summary>Resets the process's peak resident memory to its current one (Linux: 5 to clear_refs), when allowed.</summary>
    private static bool TryResetPeak(int pid)
    {
        try
        {
            File.WriteAllText($"/proc/{pid}/clear_refs", "5");
            return true;
        }
        catch (Exception)
        {
            return false;
        }
    }
}
