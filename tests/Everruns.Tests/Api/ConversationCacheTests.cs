using System.Text.Json.Nodes;
using Everruns.Modules.Execution;
using Everruns.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Everruns.Tests.Api;

/// <summary>
/// A model call reads only the part of the conversation its instance has not kept (<c>ConversationCache</c>), and the
/// model still sees the whole conversation, whichever instance ran the turns before.
/// </summary>
public sealed class ConversationCacheTests
{
    /// <summary>A fake model, a database of its own, one host on them, and a session.</summary>
    private sealed record OneHost(FakeOpenAi Fake, TestDatabase Database, Alba.IAlbaHost Host, ApiClient Api, string SessionId)
        : IAsyncDisposable
    {
        public static async Task<OneHost> StartAsync(string databasePrefix)
        {
            var fake = await FakeOpenAi.StartAsync();
            var database = await TestDatabase.CreateAsync(databasePrefix);
            var host = await TestHost.StartAsync(database.Url, settings: fake.ServerSettings());
            var api = new ApiClient(host.Server.CreateClient());
            return new OneHost(fake, database, host, api, (string)(await api.CreateSessionAsync())["id"]!);
        }

        public async ValueTask DisposeAsync()
        {
            await Host.DisposeAsync();
            await Database.DisposeAsync();
            await Fake.DisposeAsync();
        }
    }

    /// <summary>The (role, text) of each message the model was sent, system prompt left out.</summary>
    private static List<string> Sent(JsonObject request) =>
        request["messages"]!.AsArray().Select(m => m!.AsObject()).Where(m => (string?)m["role"] != "system")
            .Select(m => $"{m["role"]}: {(m["content"] is JsonArray parts ? string.Concat(parts.Select(p => (string?)p!["text"])) : (string?)m["content"])}")
            .ToList();

    [Fact]
    public async Task what_an_instance_commits_is_kept_as_it_commits_and_its_next_model_call_reads_none_of_it_back()
    {
        await using var one = await OneHost.StartAsync("everruns_conversation_commits");
        var (fake, database, host, api, sessionId) = one;

        await api.PostMessageAsync(sessionId, "one");
        await api.WaitForTurnsAsync(sessionId);
        // The first turn, message and answer, goes from the store behind the server's back: the instance kept both as it
        // committed them, and the second model call, started by the second message's commit, reads nothing back.
        await PostgresServer.ExecuteAsync(database.Url,
            $"delete from everruns.mt_events where stream_id = '{sessionId}' and type in ('input.message', 'output.message.completed')");

        await api.PostMessageAsync(sessionId, "two");
        ((string)(await api.WaitForTurnsAsync(sessionId, 2)).Last()["type"]!).ShouldBe("turn.completed");
        fake.Requests.Count.ShouldBe(2);
        Sent(fake.Requests.Last().Body).ShouldBe(["user: one", "assistant: Fake says: one", "user: two"]);
    }

    [Fact]
    public async Task a_message_queued_behind_a_running_turn_reaches_the_model_with_its_own_turn_only()
    {
        await using var one = await OneHost.StartAsync("everruns_conversation_queued");
        var (fake, database, host, api, sessionId) = one;

        await api.PostMessageAsync(sessionId, "hold one");
        await Eventually.Until(() => Task.FromResult(fake.Requests.Count == 1));
        var retried = await api.CounterAsync("everruns_step_commit_retries_total");
        // Posted while the first turn's model call is under way: queued, kept by the instance as it commits, and started
        // by the first turn's end, whose step then reads nothing back.
        await api.PostMessageAsync(sessionId, "two");
        fake.Release();
        (await api.WaitForTurnsAsync(sessionId, 2)).Count(e => (string)e["type"]! == "turn.completed").ShouldBe(2);
        // The queued message changed the turn state the first step had been handed: its commit failed the version check
        // and was made again, reading the state, with the answer it had (the model was asked once per turn, below).
        (await api.CounterAsync("everruns_step_commit_retries_total") - retried).ShouldBe(1);

        var requests = fake.Requests.ToList();
        requests.Count.ShouldBe(2);
        Sent(requests[0].Body).ShouldBe(["user: hold one"]);
        Sent(requests[1].Body).ShouldBe(["user: hold one", "assistant: Fake says: hold one", "user: two"]);
    }

    [Fact]
    public async Task a_step_of_a_failed_turn_delivered_again_later_sees_its_end_though_it_lies_before_what_was_kept()
    {
        await using var one = await OneHost.StartAsync("everruns_conversation_redelivery");
        var (fake, database, host, api, sessionId) = one;

        // The first turn fails (the fake refuses): no answer, only its turn.failed says it is over.
        await api.PostMessageAsync(sessionId, "please break");
        var events = await api.WaitForTurnsAsync(sessionId);
        ((string)events.LastTurnEnd()["type"]!).ShouldBe("turn.failed");
        var first = events.Single(e => (string)e["type"]! == "turn.started")["data"]!;
        // The second turn's model call keeps the conversation up to past the first turn's end.
        await api.PostMessageAsync(sessionId, "two");
        events = await api.WaitForTurnsAsync(sessionId, 2);

        var requests = fake.Requests.Count;
        await using (var scope = host.Services.CreateAsyncScope())
            await scope.ServiceProvider.GetRequiredService<Wolverine.IMessageBus>().InvokeAsync(
                new RunTurnStep(sessionId, (string)first["turn_id"]!, 1, (string)first["input_message_id"]!));
        fake.Requests.Count.ShouldBe(requests); // no model call for a turn that is over
        (await api.EventsAsync(sessionId)).Count.ShouldBe(events.Count);
    }

    [Fact]
    public async Task a_conversation_longer_than_a_read_page_reaches_the_model_and_the_message_list_to_its_latest_message()
    {
        await using var one = await OneHost.StartAsync("everruns_conversation_long");
        var (fake, database, host, api, sessionId) = one;
        await api.PostMessageAsync(sessionId, "first");
        await api.WaitForTurnsAsync(sessionId);

        // 10,001 more answers (copies of the first): more than a read's page of 10,000 events holds.
        const int copies = 10_001;
        await PostgresServer.ExecuteAsync(database.Url, $$"""
            insert into everruns.mt_events (seq_id, id, stream_id, version, data, type, tenant_id, timestamp, mt_dotnet_type, headers, is_archived)
            select nextval('everruns.mt_events_sequence'), gen_random_uuid(), e.stream_id, s.version + g, e.data,
                   e.type, e.tenant_id, e.timestamp, e.mt_dotnet_type, e.headers, false
            from everruns.mt_events e join everruns.mt_streams s on s.id = e.stream_id, generate_series(1, {{copies}}) g
            where e.stream_id = '{{sessionId}}' and e.type = 'output.message.completed';
            update everruns.mt_streams set version = version + {{copies}} where id = '{{sessionId}}';
            """);

        await api.PostMessageAsync(sessionId, "latest");
        // (The unfiltered list's first page would not reach the new turn.)
        var ended = await Eventually.Value(async () =>
        {
            var turns = await api.EventsAsync(sessionId, "?types=turn.completed&types=turn.failed");
            return turns.Count >= 2 ? turns : null;
        }, TimeSpan.FromSeconds(60));
        ((string)ended.Last()["type"]!).ShouldBe("turn.completed");
        var sent = Sent(fake.Requests.Last().Body);
        sent.Count.ShouldBe(copies + 3);
        sent[^1].ShouldBe("user: latest");

        // The message list pages in the store: its total and its last page reach the end too.
        var last = await api.GetAsync($"/v1/sessions/{sessionId}/messages?offset={copies + 2}&limit=10");
        last.Status.ShouldBe(System.Net.HttpStatusCode.OK, last.Text[..Math.Min(500, last.Text.Length)]);
        ((long)last.Object["total"]!).ShouldBe(copies + 4);
        last.Object["data"]!.AsArray().Select(m => $"{m!["role"]}: {m["content"]![0]!["text"]}")
            .ShouldBe(["user: latest", "agent: Fake says: latest"]);
    }

    [Fact]
    public async Task turns_run_by_another_instance_in_between_are_read_after_what_an_instance_kept()
    {
        await using var fake = await FakeOpenAi.StartAsync();
        await using var database = await TestDatabase.CreateAsync("everruns_conversation_nodes");
        await using var a = await TestHost.StartAsync(database.Url, settings: fake.ServerSettings());
        await using var b = await TestHost.StartAsync(database.Url, settings: fake.ServerSettings());
        var onA = new ApiClient(a.Server.CreateClient());
        var onB = new ApiClient(b.Server.CreateClient());
        var sessionId = (string)(await onA.CreateSessionAsync())["id"]!;

        // A turn's model call runs on the instance that accepted its message.
        await onA.PostMessageAsync(sessionId, "one");
        await onA.WaitForTurnsAsync(sessionId);
        await onB.PostMessageAsync(sessionId, "two");
        await onB.WaitForTurnsAsync(sessionId, 2);
        await onA.PostMessageAsync(sessionId, "three");
        await onA.WaitForTurnsAsync(sessionId, 3);

        Sent(fake.Requests.Last().Body).ShouldBe([
            "user: one", "assistant: Fake says: one", "user: two", "assistant: Fake says: two", "user: three",
        ]);
    }
}
