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

    public int Port { get; }
    public HttpClient Http { get; }
    public int Pid => _process.Id;

    private Node(Process process, int port)
    {
        _process = process;
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
        foreach (var (key, value) in settings) start.Environment[key] = value;
        var process = Process.Start(start)!;
        var node = new Node(process, port);
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

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>One SSE connection, calling back for each event with the moment it was read.</summary>
public sealed class SseStream : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private Task _reader = Task.CompletedTask;
    public TaskCompletionSource Connected { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public static SseStream Open(HttpClient http, string url, Action<string, string> onEvent)
    {
        var stream = new SseStream();
        stream._reader = Task.Run(() => stream.ReadAsync(http, url, onEvent));
        return stream;
    }

    private async Task ReadAsync(HttpClient http, string url, Action<string, string> onEvent)
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, _stop.Token);
            response.EnsureSuccessStatusCode();
            await using var body = await response.Content.ReadAsStreamAsync(_stop.Token);
            using var reader = new StreamReader(body);
            string? type = null, data = null;
            while (await reader.ReadLineAsync(_stop.Token) is { } line)
            {
                if (line.Length == 0)
                {
                    if (type == "connected") Connected.TrySetResult();
                    else if (type is not null && data is not null) onEvent(type, data);
                    type = data = null;
                }
                else if (line.StartsWith("event: ")) type = line[7..];
                else if (line.StartsWith("data: ")) data = line[6..];
            }
        }
        catch (Exception e) when (_stop.IsCancellationRequested || e is IOException or HttpRequestException)
        {
            Connected.TrySetException(e);
        }
    }

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

public static class Api
{
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
