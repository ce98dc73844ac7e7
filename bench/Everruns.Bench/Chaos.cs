using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace Everruns.Bench;

/// <summary>
/// The fault drill (ops/chaos, and at a small scale the suite's fault test): instances on a PostgreSQL server of its own,
/// sessions posting through random instances as a careful client does (an Idempotency-Key per message, the same key
/// again after a lost response or a 503), and three faults under that load, one per round: SIGKILL of an instance with
/// PostgreSQL restarted in fast mode, PostgreSQL restarted in immediate mode, PostgreSQL stopped for a while. Then every
/// session's events are read back and checked.
/// </summary>
public sealed class ChaosDrill(ChaosOptions options)
{
    private const string Token = "evr_pat_c4a05000000000000000000000000000000000000000000000000000000d0001";
    private readonly List<Node> _nodes = [];
    private readonly ConcurrentDictionary<string, ConcurrentBag<string>> _accepted = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private int _serverErrors;
    private readonly ConcurrentBag<string> _serverErrorSamples = [];

    private PrivatePostgres? _postgres;
    private int _stopped;

    /// <summary>Stops what the drill started, when it is interrupted (Ctrl-C, SIGTERM) before it could itself.</summary>
    public void Abort()
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 1) return;
        foreach (var node in _nodes) node.Kill();
        _postgres?.DisposeAsync().AsTask().Wait(TimeSpan.FromSeconds(30));
    }

    public async Task<ChaosReport> RunAsync()
    {
        await using var postgres = _postgres = await PrivatePostgres.StartAsync(options.PgLocal);
        var settings = Settings();
        await MigrateAsync(postgres.Url, settings);
        for (var i = 0; i < options.Nodes; i++) _nodes.Add(Node.Start(options.HostDll, postgres.Url, $"chaos{i + 1}", settings));
        try
        {
            await Task.WhenAll(_nodes.Select(n => n.WaitReadyAsync(Stopwatch.StartNew())));
            var sessions = await Task.WhenAll(Enumerable.Range(0, options.Sessions).Select(i => CreateSessionAsync(i)));
            var faults = new List<FaultRecord>();
            var perRound = Math.Max(1, (options.Messages + 2) / 3);
            var round = 0;
            faults.Add(await RoundAsync(sessions, round++, perRound, "SIGKILL of one instance, then PostgreSQL restarted (fast)", async () =>
            {
                await Task.Delay(TimeSpan.FromSeconds(1));
                var victim = _nodes[^1];
                options.Log($"killing {victim.Name}");
                victim.Kill();
                await Task.Delay(TimeSpan.FromSeconds(1));
                options.Log("restarting PostgreSQL (fast)");
                await postgres.RestartAsync("fast");
            }));
            faults.Add(await RoundAsync(sessions, round++, perRound, "PostgreSQL restarted (immediate)", async () =>
            {
                await Task.Delay(TimeSpan.FromSeconds(1));
                options.Log("restarting PostgreSQL (immediate)");
                await postgres.RestartAsync("immediate");
            }));
            var remaining = options.Messages - 2 * perRound;
            if (remaining > 0)
                faults.Add(await RoundAsync(sessions, round, remaining, $"PostgreSQL stopped for {options.StopFor.TotalSeconds:0} s", async () =>
                {
                    await Task.Delay(TimeSpan.FromSeconds(1));
                    options.Log("stopping PostgreSQL");
                    await postgres.StopAsync("fast");
                    await Task.Delay(options.StopFor);
                    options.Log("starting PostgreSQL");
                    await postgres.StartAgainAsync();
                }));
            var liveEvents = await LiveEventsAsync();
            return await VerifyAsync(postgres.Url, sessions, faults, liveEvents);
        }
        finally
        {
            if (Interlocked.Exchange(ref _stopped, 1) == 0)
                foreach (var node in _nodes) await node.DisposeAsync();
        }
    }

    private Dictionary<string, string> Settings() => new()
    {
        ["API_KEY_SECRET"] = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)),
        ["BOOTSTRAP_ADMIN_TOKEN"] = Token,
        ["RATE_LIMIT_REQUESTS"] = "100000000",
        ["EXPECTED_INSTANCES"] = options.Nodes.ToString(),
        ["NODE_HEALTH_CHECK_SECS"] = "1",
        ["NODE_STALE_SECS"] = "3",
        ["MAINTENANCE_INTERVAL_SECS"] = "1",
        ["OFFLINE_MODEL_CHUNK_DELAY_MS"] = "40",
        ["LOG_LEVEL"] = "Warning",
    };

    private async Task MigrateAsync(string url, Dictionary<string, string> settings)
    {
        var start = new ProcessStartInfo("dotnet", [options.HostDll, "migrate"])
        {
            WorkingDirectory = Path.GetDirectoryName(options.HostDll)!, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        foreach (var (key, value) in settings) start.Environment[key] = value;
        start.Environment["DATABASE_URL"] = url;
        using var migrate = Process.Start(start)!;
        var output = migrate.StandardOutput.ReadToEndAsync();
        var error = migrate.StandardError.ReadToEndAsync();
        await migrate.WaitForExitAsync();
        if (migrate.ExitCode != 0) throw new InvalidOperationException($"migrate failed: {await output}{await error}");
    }

    private async Task<string> CreateSessionAsync(int index)
    {
        var response = await PostAsync("/v1/sessions", new JsonObject { ["title"] = $"chaos {index}" }, $"session-{index}");
        return (string)response["id"]!;
    }

    /// <summary>
    /// Every session posts <paramref name="messages"/> messages, one after the other, while <paramref name="fault"/> runs;
    /// then waits for every accepted message's turn to end. Recovery: from the fault's end (PostgreSQL back) to the last
    /// turn seen ended.
    /// </summary>
    private async Task<FaultRecord> RoundAsync(string[] sessions, int round, int messages, string name, Func<Task> fault)
    {
        var began = _clock.Elapsed;
        options.Log($"round {round + 1}: {name}");
        var faultTask = Task.Run(fault);
        var load = sessions.Select(async (session, s) =>
        {
            await Task.Delay(Random.Shared.Next(0, 500));
            for (var m = 0; m < messages; m++)
            {
                var text = $"{TextOf(s, round, m)} {Filler}";
                await PostAsync($"/v1/sessions/{session}/messages", new JsonObject { ["message"] = new JsonObject { ["content"] = text } },
                    $"{session}-{round}-{m}");
                _accepted.GetOrAdd(session, _ => []).Add(text);
                await Task.Delay(700);
            }
        });
        await Task.WhenAll(load);
        await faultTask;
        var back = _clock.Elapsed;
        await WaitForTurnsAsync(sessions, TimeSpan.FromSeconds(options.Settle));
        var recovered = _clock.Elapsed - back;
        options.Log($"round {round + 1}: last turn ended {recovered.TotalSeconds:0.0} s after PostgreSQL was back");
        return new FaultRecord(name, began, recovered);
    }

    private const string Filler = "one two three four five six seven eight nine ten eleven twelve";

    private static string TextOf(int session, int round, int message) => $"s{session} r{round} m{message}";

    /// <summary>Until every accepted message of every session has its turn ended (completed or failed), or for <paramref name="within"/>.</summary>
    private async Task WaitForTurnsAsync(string[] sessions, TimeSpan within)
    {
        var deadline = _clock.Elapsed + within;
        var pending = sessions.ToList();
        while (pending.Count > 0)
        {
            if (_clock.Elapsed > deadline)
            {
                options.Log($"{pending.Count} session(s) still had turns unfinished {within.TotalSeconds:0} s after the fault");
                return;
            }

            var done = await Task.WhenAll(pending.Select(async session =>
            {
                var events = await EventsAsync(session);
                var ended = events.Count(e => (string?)e["type"] is "turn.completed" or "turn.failed" or "turn.cancelled");
                return ended >= (_accepted.TryGetValue(session, out var texts) ? texts.Count : 0) ? session : null;
            }));
            pending.RemoveAll(done.Contains);
            if (pending.Count > 0) await Task.Delay(200);
        }
    }

    /// <summary>
    /// After the faults, whether every live instance's SSE streams still get live events, which needs its LISTEN
    /// connection back: a stream on each opened on a new session, a message posted, the time until every stream saw
    /// the turn complete (null when one did not within 10 s).
    /// </summary>
    private async Task<TimeSpan?> LiveEventsAsync()
    {
        var session = await CreateSessionAsync(-1);
        var live = _nodes.Where(n => !n.HasExited).ToList();
        var seen = live.Select(_ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).ToList();
        var streams = live.Select((node, i) => SseStream.Open(node.Http, $"/v1/sessions/{session}/sse",
            (type, _) => { if (type == "turn.completed") seen[i].TrySetResult(); })).ToList();
        try
        {
            await Task.WhenAll(streams.Select(stream => stream.Connected.Task)).WaitAsync(TimeSpan.FromSeconds(10));
            var posted = Stopwatch.StartNew();
            await PostAsync($"/v1/sessions/{session}/messages", new JsonObject { ["message"] = new JsonObject { ["content"] = "live?" } },
                "live-check");
            await Task.WhenAll(seen.Select(s => s.Task)).WaitAsync(TimeSpan.FromSeconds(10));
            return posted.Elapsed;
        }
        catch (TimeoutException)
        {
            return null;
        }
        finally
        {
            foreach (var stream in streams) await stream.DisposeAsync();
        }
    }

    private async Task<ChaosReport> VerifyAsync(string url, string[] sessions, List<FaultRecord> faults, TimeSpan? liveEvents)
    {
        int accepted = 0, completed = 0, unfinished = 0, failed = 0, duplicated = 0, lost = 0;
        var problems = new List<string>();
        foreach (var session in sessions)
        {
            var events = await EventsAsync(session);
            var texts = _accepted.TryGetValue(session, out var bag) ? bag.ToList() : [];
            accepted += texts.Count;
            var inputs = events.Where(e => (string?)e["type"] == "input.message")
                .Select(e => (string)e["data"]!["message"]!["content"]![0]!["text"]!).ToList();
            foreach (var text in texts)
            {
                var stored = inputs.Count(i => i == text);
                if (stored == 0) lost++;
                if (stored > 1) duplicated += stored - 1;
            }

            duplicated += inputs.Count(i => !texts.Contains(i)); // stored though never accepted
            completed += events.Count(e => (string?)e["type"] == "turn.completed");
            unfinished += texts.Count - events.Count(e => (string?)e["type"] is "turn.completed" or "turn.failed" or "turn.cancelled");
            failed += events.Count(e => (string?)e["type"] == "turn.failed");
            foreach (var turn in events.Where(e => e["context"]?["turn_id"] is not null).GroupBy(e => (string)e["context"]!["turn_id"]!))
            {
                var started = turn.Count(e => (string?)e["type"] == "turn.started");
                var ended = turn.Count(e => (string?)e["type"] is "turn.completed" or "turn.failed" or "turn.cancelled");
                if (started != 1 || ended != 1) problems.Add($"{session}: turn {turn.Key} has {started} start(s) and {ended} end(s)");
            }

            if (events.Select(e => (string)e["id"]!).Distinct().Count() != events.Count) problems.Add($"{session}: repeated event ids");
            var sequences = events.Select(e => (long)e["sequence"]!).ToList();
            if (!sequences.SequenceEqual(Enumerable.Range(1, sequences.Count).Select(i => (long)i))) problems.Add($"{session}: sequence has gaps");
            foreach (var failure in events.Where(e => (string?)e["type"] == "turn.failed").Take(3))
                problems.Add($"{session}: turn.failed {failure["data"]?.ToJsonString()}");
        }

        var deadLetters = await Db.ScalarAsync<long>(url, "select count(*) from wolverine.wolverine_dead_letters");
        if (deadLetters > 0)
            problems.Add("dead letters: " + await Db.ScalarAsync<string>(url,
                "select string_agg(message_type || ': ' || exception_message, ' | ') from (select * from wolverine.wolverine_dead_letters limit 3) d"));
        problems.AddRange(_serverErrorSamples);
        if (unfinished > 0)
            foreach (var node in _nodes.Where(n => !n.HasExited)) problems.Add($"{node.Name}'s last lines: {node.LogTail(15)}");
        if (liveEvents is null) problems.Add("after the faults, an instance's SSE stream saw no live event of a new turn within 10 s");
        return new ChaosReport(options.Nodes, sessions.Length, options.Messages, accepted, completed, failed, unfinished, duplicated, lost,
            deadLetters, _serverErrors, faults, problems, liveEvents);
    }

    private async Task<List<JsonObject>> EventsAsync(string session)
    {
        var response = await SendAsync(HttpMethod.Get, $"/v1/sessions/{session}/events", null, null);
        return response["data"]!.AsArray().Select(e => e!.AsObject()).ToList();
    }

    private Task<JsonObject> PostAsync(string path, JsonObject body, string key) => SendAsync(HttpMethod.Post, path, body, key);

    /// <summary>
    /// As a careful client: through a random live instance; a lost response, a 5xx or an idempotency key still in use is
    /// tried again (another instance, the same key) until it succeeds or the drill's patience ends.
    /// </summary>
    private async Task<JsonObject> SendAsync(HttpMethod method, string path, JsonObject? body, string? key)
    {
        var deadline = _clock.Elapsed + TimeSpan.FromSeconds(options.Settle);
        var delay = TimeSpan.FromMilliseconds(100);
        string last = "";
        while (_clock.Elapsed < deadline)
        {
            var live = _nodes.Where(n => !n.HasExited).ToList();
            var node = live[Random.Shared.Next(live.Count)];
            try
            {
                using var request = new HttpRequestMessage(method, path);
                if (body is not null) request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
                if (key is not null) request.Headers.Add("Idempotency-Key", key);
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                using var response = await node.Http.SendAsync(request, timeout.Token);
                var text = await response.Content.ReadAsStringAsync(timeout.Token);
                if (response.IsSuccessStatusCode) return JsonNode.Parse(text)!.AsObject();
                last = $"{(int)response.StatusCode} {text}";
                if ((int)response.StatusCode >= 500 && response.StatusCode != HttpStatusCode.ServiceUnavailable
                    && Interlocked.Increment(ref _serverErrors) <= 3)
                    _serverErrorSamples.Add($"{method} {path} on {node.Name}: {last}");
                var retry = (int)response.StatusCode >= 500 || text.Contains("idempotency_key_in_use");
                if (!retry) throw new InvalidOperationException($"{method} {path} answered {last}");
            }
            catch (Exception e) when (e is HttpRequestException or OperationCanceledException)
            {
                last = e.Message; // the response was lost: try again with the same key
            }

            await Task.Delay(delay);
            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 2000));
        }

        throw new TimeoutException($"{method} {path} did not succeed in {options.Settle} s; last: {last}");
    }
}

public sealed record ChaosOptions(string HostDll, string PgLocal, int Nodes, int Sessions, int Messages, TimeSpan StopFor,
    Action<string> Log)
{
    /// <summary>Seconds a request or a round's turns may take (a stop of the database included).</summary>
    public double Settle => StopFor.TotalSeconds + 90;
}

/// <summary>A fault, when it began (from the drill's start), and the time from PostgreSQL back to the last turn ended.</summary>
public sealed record FaultRecord(string Fault, TimeSpan At, TimeSpan Recovery);

public sealed record ChaosReport(int Nodes, int Sessions, int Messages, int Accepted, int Completed, int Failed, int Unfinished, int Duplicated,
    int Lost, long DeadLetters, int ServerErrors, IReadOnlyList<FaultRecord> Faults, IReadOnlyList<string> Problems, TimeSpan? LiveEvents)
{
    public TimeSpan LongestRecovery => Faults.Max(f => f.Recovery);

    public string ToMarkdown()
    {
        var text = new StringBuilder();
        text.AppendLine($"| load | {Nodes} instances, {Sessions} sessions × {Messages} messages |");
        text.AppendLine("| --- | --- |");
        foreach (var fault in Faults)
            text.AppendLine($"| fault at {fault.At.TotalSeconds:0.0} s | {fault.Fault}; last turn ended {fault.Recovery.TotalSeconds:0.0} s after PostgreSQL was back |");
        text.AppendLine($"| accepted | {Accepted} |");
        text.AppendLine($"| completed | {Completed} |");
        text.AppendLine($"| failed | {Failed} |");
        text.AppendLine($"| unfinished | {Unfinished} |");
        text.AppendLine($"| duplicated | {Duplicated} |");
        text.AppendLine($"| lost | {Lost} |");
        text.AppendLine($"| dead letters | {DeadLetters} |");
        text.AppendLine($"| 5xx other than 503 | {ServerErrors} |");
        text.AppendLine($"| longest recovery | {LongestRecovery.TotalSeconds:0.0} s |");
        text.AppendLine($"| live events after the faults | {(LiveEvents is { } live ? $"every live instance's SSE stream saw a new turn complete {live.TotalSeconds:0.0} s after its POST" : "missing on some instance")} |");
        foreach (var problem in Problems.Take(20)) text.AppendLine($"| problem | {problem} |");
        return text.ToString();
    }
}

/// <summary>A PostgreSQL server of the drill's own (ops/pg-local in a temporary folder on a free port), to restart and stop at will.</summary>
public sealed class PrivatePostgres : IAsyncDisposable
{
    private readonly string _pgLocal, _dir;
    private readonly int _port;

    private PrivatePostgres(string pgLocal, string dir, int port, string url)
    {
        _pgLocal = pgLocal;
        _dir = dir;
        _port = port;
        Url = url;
    }

    public string Url { get; }

    public static async Task<PrivatePostgres> StartAsync(string pgLocal)
    {
        var dir = Directory.CreateTempSubdirectory("everruns-pg-").FullName;
        var port = Node.FreePort();
        var url = (await RunAsync(pgLocal, dir, port, "start")).Trim().Split('\n').Last();
        return new PrivatePostgres(pgLocal, dir, port, url);
    }

    /// <summary><c>pg_ctl restart</c> in <paramref name="mode"/> (fast or immediate): every connection is cut.</summary>
    public Task RestartAsync(string mode) => RunAsync(_pgLocal, _dir, _port, "restart", mode);

    public Task StopAsync(string mode) => RunAsync(_pgLocal, _dir, _port, "stop", mode);

    public Task StartAgainAsync() => RunAsync(_pgLocal, _dir, _port, "start");

    public async ValueTask DisposeAsync()
    {
        if (!Directory.Exists(_dir)) return;
        try
        {
            await StopAsync("immediate");
        }
        finally
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    private static async Task<string> RunAsync(string pgLocal, string dir, int port, params string[] args)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(pgLocal);
        foreach (var arg in args) start.ArgumentList.Add(arg);
        start.Environment["PG_LOCAL_DIR"] = dir;
        start.Environment["PG_LOCAL_PORT"] = port.ToString();
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0) throw new InvalidOperationException($"pg-local {string.Join(' ', args)} failed: {await error}");
        return await output;
    }
}

/// <summary>
/// <c>ops/chaos</c>: the drill at an operator's scale. Environment: EVERRUNS_HOST_DLL, PG_LOCAL (ops/pg-local);
/// CHAOS_SESSIONS (200), CHAOS_MESSAGES (10), CHAOS_INSTANCES (3), CHAOS_STOP_SECS (20), bounded so that a typo cannot
/// start a run that never ends.
/// </summary>
public static class ChaosCommand
{
    public static async Task<int> RunAsync(string[] args)
    {
        var options = new ChaosOptions(
            Environment.GetEnvironmentVariable("EVERRUNS_HOST_DLL") ?? throw new InvalidOperationException("EVERRUNS_HOST_DLL is not set (run ops/chaos)"),
            Environment.GetEnvironmentVariable("PG_LOCAL") ?? throw new InvalidOperationException("PG_LOCAL is not set (run ops/chaos)"),
            Bounded("CHAOS_INSTANCES", 3, 2, 5), Bounded("CHAOS_SESSIONS", 200, 1, 1000), Bounded("CHAOS_MESSAGES", 10, 3, 50),
            TimeSpan.FromSeconds(Bounded("CHAOS_STOP_SECS", 20, 1, 120)),
            line => Console.Error.WriteLine($"[{DateTime.Now:HH:mm:ss}] {line}"));
        var drill = new ChaosDrill(options);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => drill.Abort();
        Console.CancelKeyPress += (_, _) => drill.Abort();
        var report = await drill.RunAsync();
        Console.WriteLine(report.ToMarkdown());
        return report.Failed + report.Unfinished + report.Duplicated + report.Lost + report.DeadLetters + report.Problems.Count == 0 ? 0 : 1;
    }

    private static int Bounded(string name, int fallback, int min, int max)
    {
        var raw = Environment.GetEnvironmentVariable(name);
        if (string.IsNullOrEmpty(raw)) return fallback;
        if (!int.TryParse(raw, out var value) || value < min || value > max)
            throw new InvalidOperationException($"{name} must be a whole number from {min} to {max}, got '{raw}'");
        return value;
    }
}
