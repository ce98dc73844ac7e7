using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Everruns.Bench;
using Npgsql;

// ops/bench runs this: bounded loads against real hosts and a real PostgreSQL, one Markdown table at the end.
// Environment: DATABASE_URL (the server; a database of its own is created and dropped), EVERRUNS_HOST_DLL,
// PGBENCH (pgbench binary), PGBOSS_DIR, DBOS_DIR and LANGGRAPH_DIR (bench/pgboss, bench/dbos and bench/langgraph with
// their node_modules), TURN_SQL_DIR (bench/sql: a turn's statements replayed by pgbench). --quick shrinks every load.
if (args.FirstOrDefault() == "chaos") return await ChaosCommand.RunAsync(args[1..]);
var quick = args.Contains("--quick");
// --turns: only the busy one-node turn run (and what it is compared with), to measure a change to the pipeline quickly.
var turnsOnly = args.Contains("--turns");
// --sse: only the cross-node SSE delivery runs (the 1,000-stream one twice), for the same reason. BENCH_SSE_TURNS sets
// the measured turns per run (3).
var sseOnly = args.Contains("--sse");
// --cluster: only the three-node runs (the lighter one and the busy shape spread over three nodes).
var clusterOnly = args.Contains("--cluster");
// The busy run: sessions posting at once, and messages each, one after the other. BENCH_BUSY_MESSAGES makes it longer
// (to attach a profiler to a node while it runs).
var busySessions = quick ? 64 : 160;
var busyMessages = int.TryParse(Environment.GetEnvironmentVariable("BENCH_BUSY_MESSAGES"), out var longer) && longer > 0
    ? longer
    : quick ? 2 : 12;
// The long conversation: one session's turns one after the other, its first and last 50 compared.
var longTurns = quick ? 100 : 300;
const int Window = 50;
var server = Need("DATABASE_URL");
var hostDll = Need("EVERRUNS_HOST_DLL");
var databaseName = $"everruns_bench_{Guid.NewGuid():N}"[..28];
var url = Db.WithDatabase(server, databaseName);
await Db.ExecuteAsync(Db.WithDatabase(server, "postgres"), $"create database \"{databaseName}\"");
// PostgreSQL's CPU is that of the server measured only (its postmaster's pid file), when it runs here and says where.
CpuSample.PostmasterPid = await PostmasterPidAsync(url);
var rows = new List<(string Measure, string Figure, string Target, string Verdict)>();
// The peers' runs (workflows or graph invocations, one per message) and their concurrency: the number of sessions
// posting one message after the other, the one that made each fastest on the 2-core machine (docs/performance.md).
var peerRuns = quick ? 500 : 2000;
const int DbosConcurrency = 16, LangGraphConcurrency = 32;
// A turn's statements replayed by pgbench (as ops/bench-sql does), for as long as the pgbench baseline.
var sqlReplaySeconds = quick ? 5 : 10;
var nodes = new List<Node>();
var settings = new Dictionary<string, string>
{
    ["SSE_MAX_CONNECTIONS"] = "200000", ["SSE_MAX_CONNECTIONS_PER_ORG"] = "200000", ["SSE_MAX_CONNECTIONS_PER_SESSION"] = "200000",
    ["DATABASE_POOL_MAX"] = "40", ["EXPECTED_INSTANCES"] = "1",
    // Identity as in production: every request authenticated, rate limits on (set high enough not to bite).
    ["API_KEY_SECRET"] = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)),
    ["BOOTSTRAP_ADMIN_TOKEN"] = "evr_pat_" + Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)).ToLowerInvariant(),
    ["RATE_LIMIT_REQUESTS"] = "100000000",
};

try
{
    Log("migrating");
    var migrate = Process.Start(new ProcessStartInfo("dotnet", [hostDll, "migrate"])
    {
        WorkingDirectory = Path.GetDirectoryName(hostDll)!, RedirectStandardOutput = true,
        Environment =
        {
            ["DATABASE_URL"] = url, ["LOG_LEVEL"] = "Warning", ["API_KEY_SECRET"] = settings["API_KEY_SECRET"],
            ["BOOTSTRAP_ADMIN_TOKEN"] = settings["BOOTSTRAP_ADMIN_TOKEN"],
        },
    })!;
    await migrate.WaitForExitAsync();

    // Baselines first, on an idle server.
    var pgbenchTps = await PgbenchAsync();
    if (turnsOnly)
    {
        var (sqlReplay, dbos, langGraph) = await ComparedWithAsync();
        await StartNodesAsync("n1");
        var busy = await TurnsAsync(nodes, busySessions, busyMessages);
        var longRun = await LongConversationAsync(nodes[0], longTurns);
        rows.Add(("pgbench single-row insert commits/s (baseline)", F(pgbenchTps), "", ""));
        AddComparedWithRows(sqlReplay, dbos, langGraph);
        AddTurnRows("1 node, busy", busy);
        AddLongConversationRows(longRun);
        AddTargetRows(busy, sqlReplay, dbos, langGraph);
        PrintTable();
        return 0;
    }

    if (clusterOnly)
    {
        settings["EXPECTED_INSTANCES"] = "3";
        await StartNodesAsync("n1", "n2", "n3");
        var light = await TurnsAsync(nodes, quick ? 16 : 40, quick ? 3 : 5);
        var busy = await TurnsAsync(nodes, busySessions, busyMessages);
        rows.Add(("pgbench single-row insert commits/s (baseline)", F(pgbenchTps), "", ""));
        AddTurnRows("3 nodes", light);
        AddTurnRows("3 nodes, busy", busy);
        PrintTable();
        return 0;
    }

    if (sseOnly)
    {
        await StartNodesAsync("n1", "n2");
        var sseRuns = new List<CrossNodeRun>();
        foreach (var streams in new[] { 1, 100, 1000, 1000 }) sseRuns.Add(await CrossNodeAsync(nodes[0], nodes[1], streams));
        AddCrossNodeRows(sseRuns);

        PrintTable();
        return 0;
    }

    var (notifyP50, notifyP99) = await NotifyRoundTripAsync(quick ? 200 : 1000);
    var pgBoss = await PgBossAsync(quick ? 500 : 2000);
    var (replay, dbosRun, langGraphRun) = await ComparedWithAsync();

    // Cold start: process start to ready, on a migrated schema.
    var starts = new List<double>();
    for (var i = 0; i < 3; i++)
    {
        var watch = Stopwatch.StartNew();
        await using var node = Node.Start(hostDll, url, $"cold{i}", settings);
        starts.Add((await node.WaitReadyAsync(watch)).TotalMilliseconds);
    }

    var coldStart = Stats.Percentile(starts, 50);

    // Turns on one node, then on three.
    await StartNodesAsync("n1");
    var one = await TurnsAsync(nodes, quick ? 16 : 40, quick ? 3 : 5);
    // The same node under more concurrent sessions: throughput of a closed loop is sessions ÷ latency, so this shows
    // how far the pipeline goes before PostgreSQL (or the CPU) saturates.
    var oneBusy = await TurnsAsync(nodes, busySessions, busyMessages);
    var longOne = await LongConversationAsync(nodes[0], longTurns);
    settings["EXPECTED_INSTANCES"] = "3";
    await StartNodesAsync("n2", "n3");
    var three = await TurnsAsync(nodes, quick ? 16 : 40, quick ? 3 : 5);
    // The busy shape spread over the three: the lighter run is over in about a second, too short for its CPU per turn.
    var threeBusy = await TurnsAsync(nodes, busySessions, busyMessages);

    // Cross-node delivery: written through node A, read on node B. The 1,000-stream run twice: the first on a node that
    // never fanned out to that many streams costs the reader about half as much CPU again (its paths compiling), and its
    // latency drifts either way; both are judged.
    var crossNode = new List<CrossNodeRun>();
    foreach (var streams in quick ? new[] { 1, 100 } : new[] { 1, 100, 1000, 1000 })
        crossNode.Add(await CrossNodeAsync(nodes[0], nodes[1], streams));

    // Idle capacity on one node.
    var idle = await IdleStreamsAsync(nodes[2], quick ? 2000 : 10_000);

    var runs = new[] { ("1 node", one), ("1 node, busy", oneBusy), ("3 nodes", three), ("3 nodes, busy", threeBusy) };
    var bestRun = runs.Select(r => r.Item2).MaxBy(r => r.TurnsPerSecond)!;
    var best = bestRun.TurnsPerSecond;
    rows.Add(("pgbench single-row insert commits/s (baseline)", F(pgbenchTps), "", ""));
    rows.Add(("LISTEN/NOTIFY round trip p50 / p99 (baseline)", $"{F(notifyP50, 2)} / {F(notifyP99, 2)} ms", "", ""));
    rows.Add(("pg-boss 10.4.2 jobs/s, enqueue → worker → complete (reference)", F(pgBoss.JobsPerSecond), "", ""));
    rows.Add(("pg-boss CPU ms per job: its Node.js process / PostgreSQL", $"{F(pgBoss.NodeCpuMs, 2)} / {F(pgBoss.PostgresCpuMs, 2)}", "", ""));
    AddComparedWithRows(replay, dbosRun, langGraphRun);
    foreach (var (label, run) in runs) AddTurnRows(label, run);
    AddLongConversationRows(longOne);

    // pg-boss and the commit share: reference figures, no longer targets (the peers' rows below are).
    rows.Add(("Turns/s vs pg-boss jobs/s (reference)", $"{F(best, 1)} vs {F(pgBoss.JobsPerSecond, 1)} (×{F(best / pgBoss.JobsPerSecond, 2)})", "", ""));
    // Commits per turn (xact_commit) of the same run as the turns/s. xact_commit also counts each read-only statement
    // run outside a transaction, which grows with the reads (a lightly loaded node's SSE streams read more often per
    // turn), not with durable work: the share of pgbench's (durable) commits that the transactions that wrote make up
    // is shown beside it.
    var commitShare = best * bestRun.CommitsPerTurn / pgbenchTps;
    var writeShare = best * bestRun.WritesPerTurn / pgbenchTps;
    rows.Add(("Turns/s × commits per turn vs pgbench commits/s (reference)",
        $"{F(best * bestRun.CommitsPerTurn)} / {F(pgbenchTps)} = {F(commitShare * 100, 1)}% (write transactions only: {F(writeShare * 100, 1)}%)", "", ""));
    AddTargetRows(bestRun, replay, dbosRun, langGraphRun);
    AddCrossNodeRows(crossNode);
    rows.Add(($"Idle SSE streams: resident memory per stream ({idle.Streams} streams)", $"{F(idle.BytesPerStream / 1024.0, 1)} KiB", "≤ 64 KiB", Verdict(idle.BytesPerStream <= 64 * 1024)));
    rows.Add(($"Idle SSE streams: live event reached", $"{idle.Reached} / {idle.Streams}", "all", Verdict(idle.Reached == idle.Streams)));
    rows.Add(("Cold start: process start → /health/ready (median of 3)", $"{F(coldStart)} ms", "< 3 s", Verdict(coldStart < 3000)));

    PrintTable();
    return 0;
}
finally
{
    foreach (var node in nodes) await node.DisposeAsync();
    NpgsqlConnection.ClearAllPools();
    await Db.ExecuteAsync(Db.WithDatabase(server, "postgres"), $"drop database if exists \"{databaseName}\" with (force)");
}

// What the turns are judged against, measured before any node starts (on an idle server): a turn's statements replayed
// by pgbench on this run's database, and the two peers.
async Task<(double SqlReplay, PeerRun Dbos, PeerRun LangGraph)> ComparedWithAsync()
{
    var sqlReplay = await SqlReplayAsync();
    var dbos = await PeerAsync("DBOS", Need("DBOS_DIR"), peerRuns, DbosConcurrency);
    var langGraph = await PeerAsync("LangGraph", Need("LANGGRAPH_DIR"), peerRuns, LangGraphConcurrency);
    return (sqlReplay, dbos, langGraph);
}

void AddComparedWithRows(double sqlReplay, PeerRun dbos, PeerRun langGraph)
{
    rows.Add(($"Turn's statements replayed by pgbench (bench/sql/turn.sql, notified after the commit; 8 clients, {sqlReplaySeconds} s) turns/s (baseline)", F(sqlReplay), "", ""));
    foreach (var (name, what, run) in new[]
             {
                 ("DBOS workflows/s (peer)", "DBOS Transact 5.3.0, a workflow per message: model step → step recording the turn's six events", dbos),
                 ("LangGraph runs/s (peer)", "LangGraph JS 1.7.3, a model node checkpointed by PostgresSaver, a thread per session", langGraph),
             })
    {
        var peer = name.Split(' ')[0];
        rows.Add(($"{name}: {what} ({run.Runs} runs, {run.Concurrency} sessions)", F(run.RunsPerSecond, 1), "", ""));
        rows.Add(($"{peer} p50 / p99 per run, start → result", $"{F(run.P50)} / {F(run.P99)} ms", "", ""));
        rows.Add(($"{peer} CPU ms per run: its Node.js process / PostgreSQL", $"{F(run.NodeCpuMs, 2)} / {F(run.PostgresCpuMs, 2)}", "", ""));
    }
}

// The targets: turns/s at least 1.5× the faster peer's runs/s with a p99 no worse than its p99, and at least 80% of
// what PostgreSQL alone makes of a turn's statements on the same database.
void AddTargetRows(TurnRun turns, double sqlReplay, PeerRun dbos, PeerRun langGraph)
{
    var (peerName, peer) = dbos.RunsPerSecond >= langGraph.RunsPerSecond ? ("DBOS", dbos) : ("LangGraph", langGraph);
    rows.Add(($"Turns/s vs the faster peer's runs/s ({peerName})",
        $"{F(turns.TurnsPerSecond, 1)} vs {F(peer.RunsPerSecond, 1)} (×{F(turns.TurnsPerSecond / peer.RunsPerSecond, 2)})",
        "≥ 1.5×", Verdict(turns.TurnsPerSecond >= 1.5 * peer.RunsPerSecond)));
    rows.Add(($"Turn p99 (POST → turn.completed on SSE) vs the faster peer's p99 ({peerName}, start → result), same run",
        $"{F(turns.P99)} vs {F(peer.P99)} ms", "≤ the peer's", Verdict(turns.P99 <= peer.P99)));
    rows.Add(("Turns/s vs the SQL replay's turns/s (same database)",
        $"{F(turns.TurnsPerSecond, 1)} vs {F(sqlReplay)} ({F(turns.TurnsPerSecond / sqlReplay * 100, 1)}%)",
        "≥ 80%", Verdict(turns.TurnsPerSecond >= 0.8 * sqlReplay)));
}

// Each 1,000-stream run is judged against the target.
void AddCrossNodeRows(IReadOnlyList<CrossNodeRun> runs)
{
    var thousands = runs.Count(r => r.Streams == 1000);
    var seen = 0;
    foreach (var run in runs)
    {
        var which = run.Streams != 1000 || thousands < 2 ? "" : ++seen == 1 ? ", the reader's first" : ", again (the reader warmed)";
        rows.Add(($"Cross-node SSE delivery p50 / p99, {run.Streams} stream(s){which} ({run.Samples} deliveries in {run.Turns} turns)",
            $"{F(run.P50, 1)} / {F(run.P99, 1)} ms", run.Streams == 1000 ? "p99 < 50 ms" : "", run.Streams == 1000 ? Verdict(run.P99 < 50) : ""));
        if (run.Streams >= 1000)
            rows.Add(($"CPU ms per turn at {run.Streams} streams{which}: reader node / writer node / PostgreSQL / load generator",
                $"{F(run.ReaderMs)} / {F(run.WriterMs)} / {F(run.PostgresMs)} / {F(run.ClientMs)}", "", ""));
    }
}

void AddLongConversationRows(LongConversation run)
{
    var (first, last) = (run.Windows[0], run.Windows[1]);
    rows.Add(($"Long conversation (one session, {run.Turns} turns one after the other): POST → turn.completed p50, turns 1-{Window} / {run.Turns - Window + 1}-{run.Turns}",
        $"{F(first.P50, 1)} / {F(last.P50, 1)} ms", "", ""));
    rows.Add(("Long conversation: CPU ms per turn, nodes / PostgreSQL, first / last 50 turns",
        $"{F(first.NodeMs, 1)} / {F(first.PostgresMs, 1)}; {F(last.NodeMs, 1)} / {F(last.PostgresMs, 1)}", "", ""));
}

void AddTurnRows(string label, TurnRun run)
{
    rows.Add(($"Turns/s, {label} ({run.Turns} turns, {run.Sessions} sessions)", F(run.TurnsPerSecond, 1), "", ""));
    rows.Add(($"POST → turn.completed on SSE p50 / p95 / p99, {label}", $"{F(run.P50)} / {F(run.P95)} / {F(run.P99)} ms", "", ""));
    rows.Add(($"Postgres commits per turn, {label} (idle background: {F(run.BackgroundCommitsPerSecond, 1)} commits/s)", F(run.CommitsPerTurn, 1), "", ""));
    rows.Add(($"Postgres write transactions per turn, {label}", F(run.WritesPerTurn, 1), "", ""));
    rows.Add(($"Store reads of the SSE streams' live loops per turn (everruns_sse_reads_total), {label}", F(run.SseReadsPerTurn, 2), "", ""));
    var cpu = run.Cpu;
    rows.Add(($"CPU ms per turn: nodes / PostgreSQL / load generator, {label} (cores busy: {F((cpu.NodesSeconds + cpu.PostgresSeconds + cpu.BenchSeconds) / run.Seconds, 2)} of {Environment.ProcessorCount})",
        $"{F(cpu.NodesSeconds * 1000 / run.Turns, 1)} / {F(cpu.PostgresSeconds * 1000 / run.Turns, 1)} / {F(cpu.BenchSeconds * 1000 / run.Turns, 1)}", "", ""));
}

void PrintTable()
{
    Console.WriteLine();
    Console.WriteLine($"Everruns benchmarks ({(turnsOnly ? "turns only, " : sseOnly ? "SSE only, " : clusterOnly ? "three nodes only, " : "")}{(quick ? "quick" : "full")}; {Environment.ProcessorCount} cores; {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC)");
    Console.WriteLine();
    Console.WriteLine("| Measure | Figure | Target | Met |");
    Console.WriteLine("|---|---|---|---|");
    foreach (var row in rows) Console.WriteLine($"| {row.Measure} | {row.Figure} | {row.Target} | {row.Verdict} |");
}

// Nodes measured in their steady state, as a long-running server: the first use of each handler and endpoint
// compiles its generated code, the runtime re-compiles hot methods (tiered compilation, with profile-guided
// instrumentation in between) over the first thousands of calls, and the background agents (leader election,
// durability, maintenance) start their work in the first minute; every new method compiled on the way postpones the
// re-compilation of the hot ones. A node younger than a minute ran turns at two thirds of this speed.
async Task StartNodesAsync(params string[] names)
{
    Log($"starting {string.Join(", ", names)} and warming up");
    var started = names.Select(name => Node.Start(hostDll, url, name, settings)).ToList();
    nodes.AddRange(started); // stopped at the end whatever happens, a failed warm-up included
    foreach (var node in started) await node.WaitReadyAsync(Stopwatch.StartNew());
    foreach (var node in started) await TurnsAsync([node], quick ? 8 : 64, quick ? 3 : 15, log: false);
    await Task.Delay(TimeSpan.FromSeconds(quick ? 15 : 45));
    foreach (var node in started) await TurnsAsync([node], quick ? 8 : 64, quick ? 3 : 15, log: false);
    // Last, the busy run's own shape (as many sessions created, connected and posting at once): its paths (many
    // connections opening, the pool and the locks under contention) are otherwise still being compiled while it is
    // measured.
    foreach (var node in started) await TurnsAsync([node], busySessions, 3, log: false);
    // The methods the warm-ups made hot are queued for re-compilation, which the runtime does in the background, mostly
    // once the CPU is free: left queued, it would run during the measured load.
    await Task.Delay(TimeSpan.FromSeconds(quick ? 5 : 15));
}

async Task<double> PgbenchAsync()
{
    Log("pgbench");
    await Db.ExecuteAsync(url, "create table if not exists bench_insert (id bigserial primary key, v int not null)");
    var script = Path.GetTempFileName();
    await File.WriteAllTextAsync(script, "insert into bench_insert (v) values (1);\n");
    var uri = new Uri(url);
    var pgbench = Process.Start(new ProcessStartInfo(Need("PGBENCH"),
        ["-n", "-c", "8", "-j", "2", "-T", quick ? "5" : "10", "-f", script, "-h", uri.Host, "-p", uri.Port.ToString(),
         "-U", uri.UserInfo.Split(':')[0], uri.AbsolutePath.Trim('/')])
    {
        RedirectStandardOutput = true, RedirectStandardError = true,
        Environment = { ["PGPASSWORD"] = uri.UserInfo.Contains(':') ? Uri.UnescapeDataString(uri.UserInfo.Split(':')[1]) : "" },
    })!;
    var output = await pgbench.StandardOutput.ReadToEndAsync();
    await pgbench.WaitForExitAsync();
    var match = Regex.Match(output, @"tps = ([0-9.]+)");
    if (!match.Success) throw new InvalidOperationException("pgbench: " + output + await pgbench.StandardError.ReadToEndAsync());
    return double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
}

async Task<(double P50, double P99)> NotifyRoundTripAsync(int pings)
{
    Log("LISTEN/NOTIFY");
    await using var listener = new NpgsqlConnection(Db.ConnectionString(url));
    await using var sender = new NpgsqlConnection(Db.ConnectionString(url));
    await listener.OpenAsync();
    await sender.OpenAsync();
    var received = new ConcurrentDictionary<string, long>();
    listener.Notification += (_, e) => received[e.Payload] = Stopwatch.GetTimestamp();
    await using (var listen = new NpgsqlCommand("listen bench_ping", listener)) await listen.ExecuteNonQueryAsync();
    using var stop = new CancellationTokenSource();
    var pump = Task.Run(async () =>
    {
        try
        {
            while (!stop.IsCancellationRequested) await listener.WaitAsync(stop.Token);
        }
        catch (OperationCanceledException)
        {
        }
    });
    var latencies = new List<double>();
    for (var i = 0; i < pings; i++)
    {
        var id = i.ToString();
        var sent = Stopwatch.GetTimestamp();
        await using (var notify = new NpgsqlCommand($"select pg_notify('bench_ping', '{id}')", sender)) await notify.ExecuteNonQueryAsync();
        while (!received.ContainsKey(id)) await Task.Yield();
        latencies.Add(Stats.Ms(sent, received[id]));
    }

    await stop.CancelAsync();
    await pump;
    return (Stats.Percentile(latencies, 50), Stats.Percentile(latencies, 99));
}

// pg-boss doing a turn's shape of work: its jobs/s, and the CPU per job of its Node.js process and of PostgreSQL (taken
// from when its queue is ready to when its last job is done).
async Task<PgBossRun> PgBossAsync(int jobs)
{
    Log("pg-boss");
    var (json, postgresSeconds) = await NodeRunnerAsync("pg-boss", Need("PGBOSS_DIR"), jobs, 32);
    return new PgBossRun(json["jobs_per_second"]!.GetValue<double>(), json["node_cpu_ms_per_job"]!.GetValue<double>(), postgresSeconds * 1000 / jobs);
}

// A peer running a turn's shape of work `runs` times from `concurrency` sessions: its runs/s, latency, and the CPU per
// run of its Node.js process and of PostgreSQL (from its warm-up done to its last run's result).
async Task<PeerRun> PeerAsync(string name, string dir, int runs, int concurrency)
{
    Log($"{name}: {runs} runs, {concurrency} sessions");
    var (json, postgresSeconds) = await NodeRunnerAsync(name, dir, runs, concurrency);
    double Get(string key) => json[key]!.GetValue<double>();
    return new PeerRun(runs, concurrency, Get("runs_per_second"), Get("p50_ms"), Get("p99_ms"), Get("node_cpu_ms_per_run"),
        postgresSeconds * 1000 / runs);
}

// Runs a Node.js runner (run.mjs <url> <count> <concurrency>) of a baseline or peer: it prints "ready" when set up, is
// told to go once PostgreSQL's CPU is sampled, and prints one JSON line when done. Its JSON and PostgreSQL's CPU seconds
// in between.
async Task<(JsonNode Json, double PostgresSeconds)> NodeRunnerAsync(string name, string dir, int count, int concurrency)
{
    var node = Process.Start(new ProcessStartInfo("node", [Path.Combine(dir, "run.mjs"), url, count.ToString(), concurrency.ToString()])
    {
        WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true,
    })!;
    var stderr = node.StandardError.ReadToEndAsync();
    var output = new StringBuilder();
    CpuSample? before = null, after = null;
    string? result = null;
    while (await node.StandardOutput.ReadLineAsync() is { } line)
    {
        output.AppendLine(line);
        if (line == "ready")
        {
            before = CpuSample.Take([]);
            await node.StandardInput.WriteLineAsync("go");
            await node.StandardInput.FlushAsync();
        }
        else if (line.StartsWith('{'))
        {
            after = CpuSample.Take([]);
            result = line;
        }
    }

    await node.WaitForExitAsync();
    var json = JsonNode.Parse(result ?? throw new InvalidOperationException($"{name}: " + output + await stderr))!;
    return (json, before is not null && after is not null ? (after - before).PostgresSeconds : double.NaN);
}

// PostgreSQL alone doing a turn's database work: the statements of one turn as this build sends them
// (bench/sql/turn.sql, then its notifications after the commit, bench/sql/notify.sql, as ops/bench-sql's "this build"
// replay) run by pgbench from 8 clients on this run's (migrated) database. Its turns/s. Its sessions (session_1 to
// session_2000) are not the nodes'; their rows stay in the database.
async Task<double> SqlReplayAsync()
{
    Log("a turn's statements replayed by pgbench");
    var dir = Need("TURN_SQL_DIR");
    var script = Path.GetTempFileName();
    await File.WriteAllTextAsync(script,
        await File.ReadAllTextAsync(Path.Combine(dir, "turn.sql")) + "\n" + await File.ReadAllTextAsync(Path.Combine(dir, "notify.sql")));
    try
    {
        var uri = new Uri(url);
        var pgbench = Process.Start(new ProcessStartInfo(Need("PGBENCH"),
            ["-n", "-M", "extended", "-c", "8", "-j", "2", "-T", sqlReplaySeconds.ToString(), "-f", script, "-h", uri.Host,
             "-p", uri.Port.ToString(), "-U", uri.UserInfo.Split(':')[0], uri.AbsolutePath.Trim('/')])
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
            Environment =
            {
                ["PGPASSWORD"] = uri.UserInfo.Contains(':') ? Uri.UnescapeDataString(uri.UserInfo.Split(':')[1]) : "",
                // The store's trigger skipped, as on the nodes' connections: this build notifies after the commit.
                ["PGOPTIONS"] = "-c everruns.event_notifier=app",
            },
        })!;
        var stderr = pgbench.StandardError.ReadToEndAsync();
        var output = await pgbench.StandardOutput.ReadToEndAsync();
        await pgbench.WaitForExitAsync();
        var match = Regex.Match(output, @"tps = ([0-9.]+)");
        if (pgbench.ExitCode != 0 || !match.Success) throw new InvalidOperationException("pgbench (turn.sql): " + output + await stderr);
        return double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
    }
    finally
    {
        File.Delete(script);
    }
}

// One session posting one message after the other: does a turn cost more the longer the conversation gets? The first
// and last Window turns are timed (POST → turn.completed on SSE) and their CPU taken.
async Task<LongConversation> LongConversationAsync(Node node, int turns)
{
    Log($"long conversation: {turns} turns");
    var sessionId = await Api.CreateSessionAsync(node.Http);
    await using var completions = await TurnCompletions.OpenAsync(node.Http, sessionId);
    var windows = new List<LongWindow>();
    var latencies = new List<double>();
    var cpu = CpuSample.Take([node.Pid]);
    for (var t = 0; t < turns; t++)
    {
        if (t == turns - Window)
        {
            latencies = [];
            cpu = CpuSample.Take([node.Pid]);
        }

        var sent = Stopwatch.GetTimestamp();
        var messageId = await Api.PostMessageAsync(node.Http, sessionId, $"long {t}: " + string.Join(" ", Enumerable.Range(1, 20).Select(i => $"word{i}")));
        var done = await completions.For(messageId).WaitAsync(TimeSpan.FromSeconds(120));
        latencies.Add(Stats.Ms(sent, done));
        if (t == Window - 1 || t == turns - 1)
        {
            var used = CpuSample.Take([node.Pid]) - cpu;
            windows.Add(new LongWindow(Stats.Percentile(latencies, 50), used.NodesSeconds * 1000 / Window, used.PostgresSeconds * 1000 / Window));
        }
    }

    return new LongConversation(turns, windows);
}

async Task<TurnRun> TurnsAsync(List<Node> cluster, int sessions, int messagesEach, bool log = true)
{
    if (log) Log($"turns on {cluster.Count} node(s)");
    // Start from a quiet database (the previous phase's cleanup done), and say how quiet: heartbeats and
    // Wolverine's agents commit a few times per second per node, and those commits are in the figure too.
    const string commits = "select xact_commit from pg_stat_database where datname = current_database()";
    var backgroundPerSecond = 0.0;
    for (var i = 0; log && i < 15; i++)
    {
        var from = await Db.ScalarAsync<long>(url, commits);
        await Task.Delay(1000);
        backgroundPerSecond = await Db.ScalarAsync<long>(url, commits) - from - 2; // our own two probes
        if (backgroundPerSecond <= 10 * cluster.Count) break;
    }

    // Write transactions: the transaction ids handed out meanwhile (a transaction gets one when it first writes; read-only
    // statements, which xact_commit counts too, get none). The next id to hand out is read without taking one.
    const string nextXid = "select pg_snapshot_xmax(pg_current_snapshot())::text::bigint";
    var commitsBefore = await Db.ScalarAsync<long>(url, commits);
    var xidsBefore = await Db.ScalarAsync<long>(url, nextXid);
    var cpuBefore = CpuSample.Take(cluster.Select(n => n.Pid));
    // A counter summed over the nodes.
    async Task<double> CounterAsync(string name) => (await Task.WhenAll(cluster.Select(n => Api.CounterAsync(n.Http, name)))).Sum();
    const string SseReads = "everruns_sse_reads_total";
    var sseReadsBefore = await CounterAsync(SseReads);
    // What explains a long tail, logged after the run: steps read back from the store instead of handed over, commits
    // retried, SSE writes that had to catch up, token lookups.
    string[] watched = ["everruns_steps_resumed_total", "everruns_step_commit_retries_total", "everruns_sse_lagging_total", "everruns_token_lookups_total"];
    async Task<double[]> WatchedAsync() => await Task.WhenAll(watched.Select(CounterAsync));
    var watchedBefore = log ? await WatchedAsync() : [];
    if (log) Log($"load: {sessions} sessions × {messagesEach} messages");
    var byNode = cluster.Select(_ => new ConcurrentBag<double>()).ToArray();
    var watch = Stopwatch.StartNew();
    await Task.WhenAll(Enumerable.Range(0, sessions).Select(async s =>
    {
        var node = cluster[s % cluster.Count];
        var sessionId = await Api.CreateSessionAsync(node.Http);
        await using var completions = await TurnCompletions.OpenAsync(node.Http, sessionId);
        for (var m = 0; m < messagesEach; m++)
        {
            var sent = Stopwatch.GetTimestamp();
            var messageId = await Api.PostMessageAsync(node.Http, sessionId, $"bench {s}.{m}");
            long done;
            try
            {
                done = await completions.For(messageId).WaitAsync(TimeSpan.FromSeconds(120));
            }
            catch (TimeoutException)
            {
                // Say whether the turn ended in the store (the stream missed it) or not (the turn is stuck), and what the
                // node logged last.
                var events = await node.Http.GetStringAsync($"/v1/sessions/{sessionId}/events?limit=100");
                // The turn state, and the durable messages not handled yet (a step stuck in the inbox shows here).
                var state = await Db.ScalarAsync<object>(url,
                    $"select coalesce((select data::text from everruns.mt_doc_sessionturns where id = '{sessionId}'), 'none')");
                var inbox = await Db.ScalarAsync<object>(url,
                    "select coalesce(string_agg(status || ' owner ' || owner_id || ' attempts ' || attempts || ' ' || message_type, E'\\n'), 'none') " +
                    "from wolverine.wolverine_incoming_envelopes where status <> 'Handled'");
                var lagging = await Api.CounterAsync(node.Http, "everruns_sse_lagging_total");
                throw new TimeoutException($"no turn.completed on SSE within 120 s for message {messageId} of session " +
                                           $"{sessionId} (posted about {DateTimeOffset.UtcNow.AddSeconds(-120):HH:mm:ss}); its SSE " +
                                           $"stream: {completions.State}; the node's everruns_sse_lagging_total: {lagging}; " +
                                           $"its events:\n{events}\nits turn state: {state}\nunhandled inbox " +
                                           $"messages:\n{inbox}\nthe node's log, last lines:\n{node.LogTail(60)}");
            }

            byNode[s % cluster.Count].Add(Stats.Ms(sent, done));
        }
    }));
    var elapsed = watch.Elapsed.TotalSeconds;
    var cpu = CpuSample.Take(cluster.Select(n => n.Pid)) - cpuBefore;
    var writes = await Db.ScalarAsync<long>(url, nextXid) - xidsBefore;
    var sseReads = await CounterAsync(SseReads) - sseReadsBefore;
    var all = byNode.SelectMany(b => b).ToList();
    if (log)
    {
        var watchedAfter = await WatchedAsync();
        var slowest = all.DefaultIfEmpty().Max();
        Log($"load done; slowest turn {slowest:0} ms; " +
            string.Join(", ", watched.Select((name, i) => $"{name} +{watchedAfter[i] - watchedBefore[i]:0}")) +
            (cluster.Count > 1
                ? "; p50 / p99 by node: " + string.Join(", ", cluster.Select((n, i) =>
                    $"{n.Name} {Stats.Percentile(byNode[i].ToList(), 50):0} / {Stats.Percentile(byNode[i].ToList(), 99):0} ms"))
                : ""));
        // Nodes log warnings and errors only: whatever they said lately goes with a turn slower than two seconds.
        if (slowest > 2000)
            foreach (var node in cluster) Log($"{node.Name}'s log, last lines:\n{node.LogTail(20)}");
    }
    // Backends report their commits to pg_stat_database up to 10 s late (when idle): wait them out, then take the
    // background that accrued meanwhile off.
    if (log) await Task.Delay(11_000);
    var commitsAfter = await Db.ScalarAsync<long>(url, commits) - (log ? (long)(backgroundPerSecond * 11) : 0);
    var turns = sessions * messagesEach;
    return new TurnRun(sessions, turns, turns / elapsed, Stats.Percentile(all, 50), Stats.Percentile(all, 95), Stats.Percentile(all, 99),
        (commitsAfter - commitsBefore) / (double)turns, writes / (double)turns, backgroundPerSecond, elapsed, cpu, sseReads / turns);
}

async Task<CrossNodeRun> CrossNodeAsync(Node writer, Node reader, int streams)
{
    // BENCH_SSE_TURNS: more measured turns per stream count (3 by default), to compare builds more finely.
    var turns = int.Parse(Environment.GetEnvironmentVariable("BENCH_SSE_TURNS") ?? "3");
    Log($"cross-node SSE, {streams} streams");
    var sessionId = await Api.CreateSessionAsync(writer.Http);
    // The streams record what they read with its arrival time and are decoded after each turn, so that 1,000 clients
    // decoding every event do not compete with the delivery being measured for this machine's two cores.
    var finished = new Countdown(streams);
    var open = new List<SseStream>();
    try
    {
        for (var i = 0; i < streams; i++)
            open.Add(SseStream.OpenRecording(reader.Http, $"/v1/sessions/{sessionId}/sse", () => finished.Signal()));

        await Task.WhenAll(open.Select(s => s.Connected.Task));
        // A stream says `connected` before it reads the history and starts waiting: let the last ones settle, so that
        // what is measured is delivery to open streams, not the tail of 1,000 connects.
        await Task.Delay(streams >= 100 ? 1000 : 100);
        var latencies = new List<double>();
        var cpu = new CpuSample(0, 0, 0);
        var writerSeconds = 0.0;
        // Turn 0 warms the reader's delivery path up for this many streams (first use of its code, buffers and
        // threads at this scale) and is not counted; the figures are over the turns after it.
        for (var turn = 0; turn <= turns; turn++)
        {
            finished = new Countdown(streams);
            var readerCpu = CpuSample.Take([reader.Pid]);
            var writerCpu = CpuSample.Take([writer.Pid]);
            var watch = Stopwatch.StartNew();
            await Api.PostMessageAsync(writer.Http, sessionId, string.Join(" ", Enumerable.Range(1, 20).Select(i => $"word{i}")));
            // Awaited, not waited on: the streams' reads complete on the socket engine's threads (see ops/bench).
            await finished.Done.WaitAsync(TimeSpan.FromSeconds(120));
            var elapsed = watch.Elapsed.TotalMilliseconds;
            var r = CpuSample.Take([reader.Pid]) - readerCpu;
            var w = CpuSample.Take([writer.Pid]) - writerCpu;
            var arrivals = new List<(DateTimeOffset At, string Data)>();
            foreach (var stream in open) stream.Replay((at, _, data) => arrivals.Add((at, data)));
            var parsed = arrivals.Select(a => (a.At, Event: JsonNode.Parse(a.Data)!))
                .Select(a => (a.At, a.Event, Ts: DateTimeOffset.Parse((string)a.Event["ts"]!, CultureInfo.InvariantCulture))).ToList();
            // Per event: its first and last arrival over the streams (how long the fan-out of one event took).
            var spreads = parsed.GroupBy(a => (string)a.Event["id"]!).OrderBy(g => g.First().Ts)
                .Select(g => $"{(string)g.First().Event["type"]!} +{(g.Min(a => a.At) - g.First().Ts).TotalMilliseconds:0}..{(g.Max(a => a.At) - g.First().Ts).TotalMilliseconds:0}");
            Log($"  turn {turn}{(turn == 0 ? " (warm-up)" : "")}: {elapsed:0} ms; CPU ms reader node {r.NodesSeconds * 1000:0}, writer node {w.NodesSeconds * 1000:0}, " +
                $"PostgreSQL {r.PostgresSeconds * 1000:0}, load generator {r.BenchSeconds * 1000:0}; each event's first..last arrival after its ts: {string.Join(", ", spreads)}");
            if (turn == 0) continue;
            latencies.AddRange(parsed.Select(a => (a.At - a.Ts).TotalMilliseconds));
            cpu += r;
            writerSeconds += w.NodesSeconds;
            await Task.Delay(200);
        }

        return new CrossNodeRun(streams, turns, Stats.Percentile(latencies, 50), Stats.Percentile(latencies, 99), latencies.Count,
            cpu.NodesSeconds * 1000 / turns, writerSeconds * 1000 / turns, cpu.PostgresSeconds * 1000 / turns, cpu.BenchSeconds * 1000 / turns);
    }
    finally
    {
        foreach (var stream in open) await stream.DisposeAsync();
    }
}

async Task<(int Streams, double BytesPerStream, int Reached)> IdleStreamsAsync(Node node, int streams)
{
    Log($"{streams} idle SSE streams");
    const int perSession = 100;
    var sessions = new List<string>();
    for (var i = 0; i < streams / perSession; i++) sessions.Add(await Api.CreateSessionAsync(node.Http));
    await Task.Delay(2000);
    var before = node.ResidentBytes();
    var reached = 0;
    var open = new List<SseStream>();
    try
    {
        foreach (var sessionId in sessions)
        {
            for (var i = 0; i < perSession; i++)
                open.Add(SseStream.Open(node.Http, $"/v1/sessions/{sessionId}/sse?types=turn.completed", (type, _) =>
                {
                    if (type == "turn.completed") Interlocked.Increment(ref reached);
                }));
            await Task.WhenAll(open.TakeLast(perSession).Select(s => s.Connected.Task));
        }

        await Task.Delay(3000);
        var after = node.ResidentBytes();
        foreach (var sessionId in sessions) await Api.PostMessageAsync(node.Http, sessionId, "wake up");
        var deadline = DateTime.UtcNow.AddSeconds(120);
        while (Volatile.Read(ref reached) < streams && DateTime.UtcNow < deadline) await Task.Delay(200);
        return (streams, (after - before) / (double)streams, Volatile.Read(ref reached));
    }
    finally
    {
        foreach (var stream in open) await stream.DisposeAsync();
    }
}

// The first line of postmaster.pid in the server's data directory (readable when it runs on this machine), or 0.
static async Task<int> PostmasterPidAsync(string url)
{
    try
    {
        var dataDirectory = await Db.ScalarAsync<string>(url, "select setting from pg_settings where name = 'data_directory'");
        var first = (await File.ReadAllLinesAsync(Path.Combine(dataDirectory, "postmaster.pid"))).FirstOrDefault();
        return int.TryParse(first, out var pid) && File.Exists($"/proc/{pid}/stat") ? pid : 0;
    }
    catch (Exception e) when (e is IOException or UnauthorizedAccessException or NpgsqlException or InvalidCastException)
    {
        return 0;
    }
}

static string Need(string name) =>
    Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value : throw new InvalidOperationException($"{name} is not set (run ops/bench)");

static string F(double value, int decimals = 0) => value.ToString("N" + decimals, CultureInfo.InvariantCulture);

static string Verdict(bool met) => met ? "met" : "not met";

static void Log(string step) => Console.Error.WriteLine($"[bench] {DateTime.UtcNow:HH:mm:ss} {step}");

/// <summary>pg-boss's jobs/s, and its Node.js process's and PostgreSQL's CPU ms per job.</summary>
internal sealed record PgBossRun(double JobsPerSecond, double NodeCpuMs, double PostgresCpuMs);

/// <summary>A peer's runs/s, its latency per run (start → result), and its Node.js process's and PostgreSQL's CPU ms per run.</summary>
internal sealed record PeerRun(int Runs, int Concurrency, double RunsPerSecond, double P50, double P99, double NodeCpuMs, double PostgresCpuMs);

/// <summary>
/// CommitsPerTurn: every commit in the database during the load, read-only statements included, per turn (background
/// included: see BackgroundCommitsPerSecond). WritesPerTurn: the transactions that wrote (took a transaction id), per turn.
/// </summary>
internal sealed record TurnRun(int Sessions, int Turns, double TurnsPerSecond, double P50, double P95, double P99, double CommitsPerTurn,
    double WritesPerTurn, double BackgroundCommitsPerSecond, double Seconds, CpuSample Cpu, double SseReadsPerTurn);

internal sealed record CrossNodeRun(int Streams, int Turns, double P50, double P99, int Samples, double ReaderMs, double WriterMs, double PostgresMs, double ClientMs);

/// <summary>Completes when signalled as many times as it was made with.</summary>
internal sealed record LongWindow(double P50, double NodeMs, double PostgresMs);

internal sealed record LongConversation(int Turns, IReadOnlyList<LongWindow> Windows);

internal sealed class Countdown(int count)
{
    private int _left = count;
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task Done => _done.Task;

    public void Signal()
    {
        if (Interlocked.Decrement(ref _left) == 0) _done.TrySetResult();
    }
}
