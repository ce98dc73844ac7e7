using System.Collections.Concurrent;
using Everruns.Contracts;
using Everruns.Tests.Infrastructure;
using Npgsql;

namespace Everruns.Tests.Cluster;

/// <summary>
/// How instances learn of committed events (<c>event_available</c>): this build's instances notify of their own commits
/// right after them, once per commit and event type; the store's trigger notifies of any other writer's; and a commit
/// nobody announced still reaches the live streams at their next catch-up.
/// </summary>
public sealed class EventNotificationTests
{
    [Fact]
    public async Task each_commit_is_notified_once_per_event_type_with_its_last_sequence()
    {
        await using var one = await OneTurn.StartAsync("everruns_notify");
        var (listener, sessionId, events) = (one.Listener, one.SessionId, one.Events);
        await Eventually.Until(() => Task.FromResult(listener.Of(sessionId).Any(n => n.Type == EventTypes.TurnCompleted)));

        // The message and its turn's start commit together, the answer and the turn's end together: each event is
        // announced with the sequence its commit ended at, once (the trigger, which names each event's own, is silent).
        var started = events.Single(e => (string)e["type"]! == EventTypes.TurnStarted)["sequence"]!.GetValue<long>();
        var ended = events.Last()["sequence"]!.GetValue<long>();
        var expected = events.Select(e => (string)e["type"]!)
            .Select(type => (Sequence: type is EventTypes.InputMessage or EventTypes.TurnStarted ? started : ended, Type: type))
            .ToList();
        listener.Of(sessionId).OrderBy(n => n.Sequence).ThenBy(n => n.Type)
            .ShouldBe(expected.OrderBy(n => n.Sequence).ThenBy(n => n.Type));
    }

    [Fact]
    public async Task events_another_writer_commits_are_notified_by_the_store_and_stream_live()
    {
        await using var one = await OneTurn.StartAsync("everruns_notify_other");
        await using var sse = await one.StreamAfterTurnAsync();
        // An instance of an earlier build, or a script: its connection does not say it notifies by itself.
        await AppendCopyOfLastEventAsync(PostgresServer.ConnectionStringFor(one.Database.Url), one.SessionId);

        var next = one.Events.Count + 1;
        (await sse.NextAsync(TimeSpan.FromSeconds(10))).Sequence.ShouldBe(next); // well before the 30 s catch-up
        await Eventually.Until(() => Task.FromResult(one.Listener.Of(one.SessionId).Contains((next, EventTypes.TurnCompleted))));
    }

    [Fact]
    public async Task a_commit_nobody_announced_reaches_live_streams_at_their_next_catch_up()
    {
        await using var one = await OneTurn.StartAsync("everruns_notify_lost", new Dictionary<string, string>
        {
            ["SSE_CATCH_UP_SECS"] = "1",
        });
        await using var sse = await one.StreamAfterTurnAsync();
        // An instance of this build that died between its commit and its notification: the trigger leaves its commit
        // alone, and nobody sends one.
        var asThisBuild = new NpgsqlConnectionStringBuilder(PostgresServer.ConnectionStringFor(one.Database.Url))
        {
            Options = EventNotifications.ConnectionOption,
        };
        await AppendCopyOfLastEventAsync(asThisBuild.ConnectionString, one.SessionId);

        var next = one.Events.Count + 1;
        (await sse.NextAsync(TimeSpan.FromSeconds(10))).Sequence.ShouldBe(next);
        one.Listener.Of(one.SessionId).ShouldNotContain(n => n.Sequence == next);
    }

    /// <summary>A database of its own, a host on it, a listener on the channel, and a session with one finished turn.</summary>
    private sealed record OneTurn(TestDatabase Database, Alba.IAlbaHost Host, ApiClient Api, Listener Listener, string SessionId,
        List<System.Text.Json.Nodes.JsonObject> Events) : IAsyncDisposable
    {
        public static async Task<OneTurn> StartAsync(string databasePrefix, Dictionary<string, string>? settings = null)
        {
            var database = await TestDatabase.CreateAsync(databasePrefix);
            var host = await TestHost.StartAsync(database.Url, settings: settings);
            var api = new ApiClient(host.Server.CreateClient());
            var listener = await Listener.StartAsync(database.Url);
            var sessionId = (string)(await api.CreateSessionAsync())["id"]!;
            await api.PostMessageAsync(sessionId, "hello");
            return new OneTurn(database, host, api, listener, sessionId, await api.WaitForTurnsAsync(sessionId));
        }

        /// <summary>An SSE stream of the session from after its turn, connected.</summary>
        public async Task<SseClient> StreamAfterTurnAsync()
        {
            var sse = await SseClient.OpenAsync(Api.Http, $"/v1/sessions/{SessionId}/sse?since_id={Events.Last()["id"]}");
            (await sse.NextAsync()).Event.ShouldBe("connected");
            return sse;
        }

        public async ValueTask DisposeAsync()
        {
            await Listener.DisposeAsync();
            await Host.DisposeAsync();
            await Database.DisposeAsync();
        }
    }

    /// <summary>Appends a copy of the session's last event (a new id) outside the server, as Marten stores it.</summary>
    private static async Task AppendCopyOfLastEventAsync(string connectionString, string sessionId)
    {
        await using var connection = new NpgsqlConnection(connectionString + ";Pooling=false");
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            """
            select everruns.mt_quick_append_events($1, null, last.tenant_id, array[gen_random_uuid()], array[last.type],
                array[last.mt_dotnet_type], array[last.data], array[null]::bytea[], array[last.headers], array[now()], null)
            from (select * from everruns.mt_events where stream_id = $1 order by version desc limit 1) last
            """, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = sessionId });
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>A LISTEN connection on <c>event_available</c> that keeps every payload.</summary>
    private sealed class Listener : IAsyncDisposable
    {
        private readonly NpgsqlConnection _connection;
        private readonly ConcurrentQueue<string> _payloads = new();
        private readonly CancellationTokenSource _stop = new();
        private Task _loop = Task.CompletedTask;

        private Listener(NpgsqlConnection connection) => _connection = connection;

        public static async Task<Listener> StartAsync(string databaseUrl)
        {
            var listener = new Listener(new NpgsqlConnection(PostgresServer.ConnectionStringFor(databaseUrl) + ";Pooling=false"));
            await listener._connection.OpenAsync();
            listener._connection.Notification += (_, e) => listener._payloads.Enqueue(e.Payload);
            await using (var listen = new NpgsqlCommand($"listen {EventNotifications.Channel}", listener._connection))
                await listen.ExecuteNonQueryAsync();
            listener._loop = Task.Run(async () =>
            {
                try
                {
                    while (true) await listener._connection.WaitAsync(listener._stop.Token);
                }
                catch (OperationCanceledException)
                {
                    // disposed
                }
            });
            return listener;
        }

        /// <summary>The (sequence, type) of each notification of the session so far.</summary>
        public List<(long Sequence, string Type)> Of(string sessionId) =>
            _payloads.Select(p => p.Split(':'))
                .Where(parts => parts.Length == 3 && parts[0] == sessionId)
                .Select(parts => (long.Parse(parts[1]), parts[2]))
                .ToList();

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _loop;
            await _connection.DisposeAsync();
            _stop.Dispose();
        }
    }
}
