using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Npgsql;

namespace Everruns.Bench;

/// <summary>A server process on a loopback port (the Release build ops/bench made).</summary>
public sealed class Node : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _log = new();

    public string Name { get; }
    public int Port { get; }
    public HttpClient Http { get; }
    public int Pid => _process.Id;
    public bool HasExited => _process.HasExited;

    /// <summary>SIGKILL: no graceful shutdown.</summary>
    public void Kill()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
    }

    /// <summary>The last lines the node wrote.</summary>
    public string LogTail(int lines)
    {
        lock (_log) return string.Join('\n', _log.ToString().Split('\n').TakeLast(lines));
    }

    private Node(Process process, string name, int port)
    {
        _process = process;
        Name = name;
        Port = port;
        Http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = int.MaxValue, PooledConnectionLifetime = Timeout.InfiniteTimeSpan })
        {
            BaseAddress = new Uri($"http://127.0.0.1:{port}"),
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    public static Node Start(string hostDll, string databaseUrl, string instance, IDictionary<string, string> settings)
    {
        var port = FreePort();
        var start = new ProcessStartInfo("dotnet", [hostDll, "--no-migrations"])
        {
            WorkingDirectory = Path.GetDirectoryName(hostDll)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["DATABASE_URL"] = databaseUrl;
        start.Environment["HOST"] = "127.0.0.1";
        start.Environment["PORT"] = port.ToString();
        start.Environment["INSTANCE_ID"] = instance;
        start.Environment["LOG_LEVEL"] = "Warning";
        // The load generator's own socket setting (see ops/bench) is not the server's.
        start.Environment.Remove("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS");
        foreach (var (key, value) in settings) start.Environment[key] = value;
        var process = Process.Start(start)!;
        var node = new Node(process, instance, port);
        if (settings.TryGetValue("BOOTSTRAP_ADMIN_TOKEN", out var token))
            node.Http.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", token);
        process.OutputDataReceived += (_, e) => { lock (node._log) node._log.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { lock (node._log) node._log.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return node;
    }

    /// <summary>Time from now until /health/ready answers 200.</summary>
    public async Task<TimeSpan> WaitReadyAsync(Stopwatch since)
    {
        using var probe = new HttpClient { BaseAddress = Http.BaseAddress, Timeout = TimeSpan.FromSeconds(2) };
        while (since.Elapsed < TimeSpan.FromSeconds(120))
        {
            if (_process.HasExited) throw new InvalidOperationException("node exited:\n" + _log);
            try
            {
                if ((await probe.GetAsync("/health/ready")).StatusCode == HttpStatusCode.OK) return since.Elapsed;
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }

            await Task.Delay(20);
        }

        throw new TimeoutException("node not ready:\n" + _log);
    }

    /// <summary>Resident set size of the server process (VmRSS), in bytes.</summary>
    public long ResidentBytes()
    {
        foreach (var line in File.ReadLines($"/proc/{_process.Id}/status"))
            if (line.StartsWith("VmRSS:"))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        return 0;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
        Http.Dispose();
        _process.Dispose();
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>
/// One SSE connection. It speaks HTTP/1.1 over a plain socket (request line, headers, chunked body) instead of going
/// through HttpClient and a StreamReader: a thousand of these share the machine's cores with the server being
/// measured, so the client does as little as it can. <see cref="Open"/> calls back for each event as soon as it is
/// read; <see cref="OpenRecording"/>, once connected, only keeps what it reads with the time it arrived (and looks for
/// the end of a turn), to be decoded later by <see cref="Replay"/>.
/// </summary>
public sealed class SseStream : IAsyncDisposable
{
    private static readonly byte[] TurnCompleted = "event: turn.completed\n"u8.ToArray();
    private readonly CancellationTokenSource _stop = new();
    private Task _reader = Task.CompletedTask;
    private Recording? _recording;
    private Action<DateTimeOffset, string, string>? _replaying;
    private DateTimeOffset _arrival;
    public TaskCompletionSource Connected { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public static SseStream Open(HttpClient http, string url, Action<string, string> onEvent)
    {
        var stream = new SseStream();
        stream._reader = Task.Run(() => stream.ReadAsync(http, url, onEvent));
        return stream;
    }

    /// <summary>Decodes as it reads until `connected`; from then on records, calling back at each `turn.completed`.</summary>
    public static SseStream OpenRecording(HttpClient http, string url, Action onTurnCompleted)
    {
        var stream = new SseStream { _recording = new Recording(onTurnCompleted) };
        stream._reader = Task.Run(() => stream.ReadAsync(http, url, (type, data) => stream._replaying?.Invoke(stream._arrival, type, data)));
        return stream;
    }

    /// <summary>Decodes what was recorded since the last call: each event with the arrival time of its last bytes.</summary>
    public void Replay(Action<DateTimeOffset, string, string> onEvent)
    {
        var (bytes, reads) = _recording!.Take();
        _replaying = onEvent;
        var start = 0;
        foreach (var (at, end) in reads)
        {
            _arrival = at;
            _decoder!.Feed(bytes.AsSpan(start, end - start));
            start = end;
        }

        _replaying = null;
    }

    private SseDecoder? _decoder;

    /// <summary>What a recording stream read: its bytes in one buffer, and where each read ended with when it arrived.</summary>
    private sealed class Recording(Action onTurnCompleted)
    {
        private byte[] _bytes = new byte[16 * 1024];
        private int _length;
        private List<(DateTimeOffset At, int End)> _reads = [];

        public void Add(ReadOnlySpan<byte> read)
        {
            var at = DateTimeOffset.UtcNow;
            bool completed;
            lock (this)
            {
                if (_length + read.Length > _bytes.Length) Array.Resize(ref _bytes, Math.Max(_bytes.Length * 2, _length + read.Length));
                read.CopyTo(_bytes.AsSpan(_length));
                // The marker may straddle two reads: look from just before this read's start.
                var from = Math.Max(0, _length - TurnCompleted.Length + 1);
                _length += read.Length;
                _reads.Add((at, _length));
                completed = _bytes.AsSpan(from, _length - from).IndexOf(TurnCompleted) >= 0;
            }

            if (completed) onTurnCompleted();
        }

        public (byte[] Bytes, List<(DateTimeOffset At, int End)> Reads) Take()
        {
            lock (this)
            {
                var taken = (_bytes[.._length], _reads);
                _length = 0;
                _reads = [];
                return taken;
            }
        }
    }

    private async Task ReadAsync(HttpClient http, string url, Action<string, string> onEvent)
    {
        try
        {
            var server = http.BaseAddress!;
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await socket.ConnectAsync(server.Host, server.Port, _stop.Token);
            var request = new StringBuilder($"GET {url} HTTP/1.1\r\nHost: {server.Authority}\r\nAccept: text/event-stream\r\n");
            if (http.DefaultRequestHeaders.TryGetValues("Authorization", out var auth))
                request.Append("Authorization: ").Append(string.Join(",", auth)).Append("\r\n");
            await socket.SendAsync(Encoding.ASCII.GetBytes(request.Append("\r\n").ToString()), _stop.Token);

            var decoder = _decoder = new SseDecoder((type, data) =>
            {
                Interlocked.Increment(ref _events);
                (_lastType, _lastData) = (type, data);
                onEvent(type, data);
            }, () => Connected.TrySetResult());
            var buffer = new byte[64 * 1024];
            int read;
            while ((read = await socket.ReceiveAsync(buffer, _stop.Token)) > 0)
            {
                Interlocked.Add(ref _bytes, read);
                _lastRead = DateTimeOffset.UtcNow;
                if (_recording is not null && Connected.Task.IsCompleted) _recording.Add(buffer.AsSpan(0, read));
                else decoder.Feed(buffer.AsSpan(0, read));
            }

            _ended = $"the server closed the stream at {DateTimeOffset.UtcNow:HH:mm:ss.fff}";
            Connected.TrySetException(new IOException("the server closed the stream"));
        }
        catch (Exception e)
        {
            _ended = $"the reader stopped at {DateTimeOffset.UtcNow:HH:mm:ss.fff}: {e.GetType().Name}: {e.Message}";
            Connected.TrySetException(e);
        }
    }

    private long _bytes, _events;
    private DateTimeOffset _lastRead;
    private string? _lastType, _lastData, _ended;

    /// <summary>What the stream has read so far, and whether (and how) it ended: for a stall's diagnostics.</summary>
    public string State => $"{(_ended ?? "still reading")}; {Interlocked.Read(ref _bytes)} bytes and " +
                           $"{Interlocked.Read(ref _events)} events read, the last read at {_lastRead:HH:mm:ss.fff}; " +
                           $"the last event: {(_lastType is null ? "none" : $"{_lastType} {_lastData?[..Math.Min(300, _lastData.Length)]}")}";

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _reader;
        }
        catch
        {
            // closing
        }
    }
}

/// <summary>A session's <c>turn.completed</c> events over SSE, by the input message each answers, with when it arrived.</summary>
public sealed class TurnCompletions : IAsyncDisposable
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, TaskCompletionSource<long>> _completed = new();
    private SseStream? _stream;

    public static async Task<TurnCompletions> OpenAsync(HttpClient http, string sessionId)
    {
        var completions = new TurnCompletions();
        completions._stream = SseStream.Open(http, $"/v1/sessions/{sessionId}/sse?types=turn.completed", (_, data) =>
        {
            var input = (string?)JsonNode.Parse(data)!["context"]?["input_message_id"];
            if (input is not null) completions.Source(input).TrySetResult(Stopwatch.GetTimestamp());
        });
        await completions._stream.Connected.Task;
        return completions;
    }

    /// <summary>The arrival (a Stopwatch timestamp) of the turn.completed of the message.</summary>
    public Task<long> For(string messageId) => Source(messageId).Task;

    private TaskCompletionSource<long> Source(string messageId) => _completed.GetOrAdd(messageId, _ => new());

    /// <summary>The stream's state (see <see cref="SseStream.State"/>).</summary>
    public string State => _stream?.State ?? "not open";

    public ValueTask DisposeAsync() => _stream?.DisposeAsync() ?? ValueTask.CompletedTask;
}

/// <summary>Response head, then the chunked body decoded into lines, then SSE frames (event + data).</summary>
public sealed class SseDecoder(Action<string, string> onEvent, Action onConnected)
{
    private enum State { Head, ChunkSize, ChunkData, ChunkEnd }

    private readonly List<byte> _line = [];
    private State _state = State.Head;
    private bool _statusChecked;
    private long _chunkLeft;
    private string? _type, _data;

    public void Feed(ReadOnlySpan<byte> bytes)
    {
        while (!bytes.IsEmpty)
        {
            switch (_state)
            {
                case State.Head:
                case State.ChunkSize:
                case State.ChunkEnd:
                {
                    if (!TakeLine(ref bytes, _line)) return;
                    var line = Encoding.ASCII.GetString(_line.ToArray()).TrimEnd('\r');
                    _line.Clear();
                    HeadOrChunkLine(line);
                    break;
                }
                case State.ChunkData:
                {
                    var take = (int)Math.Min(_chunkLeft, bytes.Length);
                    Body(bytes[..take]);
                    bytes = bytes[take..];
                    _chunkLeft -= take;
                    if (_chunkLeft == 0) _state = State.ChunkEnd;
                    break;
                }
            }
        }
    }

    private void HeadOrChunkLine(string line)
    {
        if (_state == State.Head)
        {
            if (!_statusChecked)
            {
                _statusChecked = true;
                if (!line.StartsWith("HTTP/1.1 200")) throw new HttpRequestException($"SSE request answered {line}");
            }
            else if (line.Length == 0) _state = State.ChunkSize;
        }
        else if (_state == State.ChunkEnd) _state = State.ChunkSize; // the CRLF after a chunk's data
        else if (line.Length > 0)
        {
            _chunkLeft = Convert.ToInt64(line.Split(';')[0], 16);
            _state = _chunkLeft == 0 ? State.Head : State.ChunkData;
        }
    }

    private readonly List<byte> _bodyLine = [];

    private void Body(ReadOnlySpan<byte> bytes)
    {
        while (TakeLine(ref bytes, _bodyLine))
        {
            BodyLine();
            _bodyLine.Clear();
        }
    }

    /// <summary>Moves bytes up to the next newline into <paramref name="line"/>; true when the line is whole.</summary>
    private static bool TakeLine(ref ReadOnlySpan<byte> bytes, List<byte> line)
    {
        var newline = bytes.IndexOf((byte)'\n');
        if (newline < 0)
        {
            line.AddRange(bytes);
            bytes = [];
            return false;
        }

        line.AddRange(bytes[..newline]);
        bytes = bytes[(newline + 1)..];
        return true;
    }

    private static readonly byte[] EventPrefix = "event: "u8.ToArray(), DataPrefix = "data: "u8.ToArray();

    private void BodyLine()
    {
        var line = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_bodyLine);
        if (line.Length == 0)
        {
            if (_type == "connected") onConnected();
            else if (_type is not null && _data is not null) onEvent(_type, _data);
            _type = _data = null;
        }
        else if (line.StartsWith(EventPrefix)) _type = Encoding.UTF8.GetString(line[EventPrefix.Length..]);
        else if (line.StartsWith(DataPrefix)) _data = Encoding.UTF8.GetString(line[DataPrefix.Length..]);
    }
}

public static class Api
{
    /// <summary>A counter of the node's /metrics (Prometheus text), 0 while it has never moved.</summary>
    public static async Task<double> CounterAsync(HttpClient http, string name)
    {
        var text = await http.GetStringAsync("/metrics");
        var line = text.Split('\n').FirstOrDefault(l => l.StartsWith(name + " ") || l.StartsWith(name + "{"));
        return line is null ? 0 : double.Parse(line.Split(' ')[^1], System.Globalization.CultureInfo.InvariantCulture);
    }

    public static async Task<string> CreateSessionAsync(HttpClient http)
    {
        using var response = await http.PostAsync("/v1/sessions", Json("{}"));
        response.EnsureSuccessStatusCode();
        return (string)JsonNode.Parse(await response.Content.ReadAsStringAsync())!["id"]!;
    }

    public static async Task<string> PostMessageAsync(HttpClient http, string sessionId, string text)
    {
        using var response = await http.PostAsync($"/v1/sessions/{sessionId}/messages",
            Json(new JsonObject { ["message"] = new JsonObject { ["content"] = text } }.ToJsonString()));
        response.EnsureSuccessStatusCode();
        return (string)JsonNode.Parse(await response.Content.ReadAsStringAsync())!["id"]!;
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");
}

public static class Db
{
    public static async Task<T> ScalarAsync<T>(string url, string sql)
    {
        await using var connection = new NpgsqlConnection(ConnectionString(url));
        await connection.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, connection);
        return (T)(await cmd.ExecuteScalarAsync())!;
    }

    public static async Task ExecuteAsync(string url, string sql)
    {
        await using var connection = new NpgsqlConnection(ConnectionString(url));
        await connection.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, connection);
        await cmd.ExecuteNonQueryAsync();
    }

    /// <summary>postgres://user[:pass]@host:port/db as an Npgsql connection string.</summary>
    public static string ConnectionString(string url)
    {
        var uri = new Uri(url);
        var user = uri.UserInfo.Split(':');
        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = uri.Host, Port = uri.Port > 0 ? uri.Port : 5432, Database = uri.AbsolutePath.Trim('/'),
            Username = Uri.UnescapeDataString(user[0]), Pooling = false,
        };
        if (user.Length > 1) builder.Password = Uri.UnescapeDataString(user[1]);
        return builder.ConnectionString;
    }

    public static string WithDatabase(string url, string database) => new UriBuilder(url) { Path = "/" + database }.Uri.ToString().TrimEnd('/');
}

public static class Stats
{
    public static double Percentile(IReadOnlyList<double> values, double p)
    {
        if (values.Count == 0) return double.NaN;
        var sorted = values.Order().ToArray();
        var rank = p / 100 * (sorted.Length - 1);
        var low = (int)Math.Floor(rank);
        var high = (int)Math.Ceiling(rank);
        return sorted[low] + (sorted[high] - sorted[low]) * (rank - low);
    }

    public static double Ms(long fromTimestamp, long toTimestamp) =>
        (toTimestamp - fromTimestamp) * 1000.0 / Stopwatch.Frequency;
}
