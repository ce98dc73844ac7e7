using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Everruns.Tests.Infrastructure;

/// <summary>A real Everruns.Host process on a loopback port, as a load balancer would see it.</summary>
public sealed class HostProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    public int Port { get; }

    /// <summary>The INSTANCE_ID given at start, if any.</summary>
    public string? InstanceId { get; private init; }
    public Uri BaseAddress => new($"http://127.0.0.1:{Port}");
    public HttpClient Http { get; }

    private HostProcess(Process process, int port)
    {
        _process = process;
        Port = port;
        // A fresh process compiles each route's Wolverine code at its first request (seconds on a loaded 2-core machine, three
        // processes compiling at once): 30 s, so that a slow first call is not taken for a hung one (seen twice in CI at 10 s).
        Http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) }.As(TestAuth.AdminToken);
    }

    /// <summary>
    /// The host's own build output (same configuration as the tests): run from the test folder, its
    /// assembly scanning would find the test framework's assemblies.
    /// </summary>
    private static string HostDirectory { get; } = TestBuildOutput() is var (configuration, framework)
        ? Path.Combine(PostgresServer.RepositoryRoot, "src", "Host", "bin", configuration, framework)
        : throw new InvalidOperationException("unexpected test output folder");

    private static (string Configuration, string Framework) TestBuildOutput()
    {
        var output = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        return (output.Parent!.Name, output.Name);
    }

    /// <summary>The built server the multi-process tests run.</summary>
    public static string HostDll => Path.Combine(HostDirectory, "Everruns.Host.dll");

    public string Output
    {
        get { lock (_output) return _output.ToString(); }
    }

    public bool HasExited => _process.HasExited;

    /// <summary>The server's process id (its /proc/{pid}/status tells its memory).</summary>
    public int ProcessId => _process.Id;
    public int ExitCode => _process.ExitCode;

    public static HostProcess Start(string databaseUrl, IDictionary<string, string>? environment = null, params string[] args)
    {
        var port = FreePort();
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = HostDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(HostDirectory, "Everruns.Host.dll"));
        foreach (var arg in args) start.ArgumentList.Add(arg);
        start.Environment["DATABASE_URL"] = databaseUrl;
        start.Environment["HOST"] = "127.0.0.1";
        start.Environment["PORT"] = port.ToString();
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        start.Environment["LOG_FORMAT"] = "simple";
        foreach (var (key, value) in TestAuth.Settings(environment))
            start.Environment[key] = value;

        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var host = new HostProcess(process, port) { InstanceId = environment?.TryGetValue("INSTANCE_ID", out var id) == true ? id : null };
        process.OutputDataReceived += (_, e) => host.Append(e.Data);
        process.ErrorDataReceived += (_, e) => host.Append(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return host;
    }

    /// <summary>Runs a verb (such as <c>migrate</c>) to completion and returns its exit code and output.</summary>
    public static Task<(int ExitCode, string Output)> RunVerbAsync(string databaseUrl, params string[] args) =>
        RunVerbAsync(databaseUrl, null, args);

    public static async Task<(int ExitCode, string Output)> RunVerbAsync(string databaseUrl, IDictionary<string, string>? environment,
        params string[] args)
    {
        await using var host = Start(databaseUrl, environment, args);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await host._process.WaitForExitAsync(timeout.Token);
        host._process.WaitForExit(); // flushes the redirected streams
        return (host.ExitCode, host.Output);
    }

    public async Task WaitUntilReadyAsync(TimeSpan? within = null)
    {
        var deadline = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(60));
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"host exited with {_process.ExitCode}:\n{Output}");
            try
            {
                using var response = await Http.GetAsync("/health/ready");
                if (response.StatusCode == HttpStatusCode.OK) return;
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }

            await Task.Delay(200);
        }

        throw new TimeoutException($"host on port {Port} was not ready in time:\n{Output}");
    }

    /// <summary>SIGTERM, as an orchestrator stops a container.</summary>
    public void Terminate()
    {
        if (!_process.HasExited) Posix.Kill(_process.Id, Posix.SigTerm);
    }

    /// <summary>True when the process exited within <paramref name="within"/>.</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan within)
    {
        using var timeout = new CancellationTokenSource(within);
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
            _process.WaitForExit(); // flushes the redirected streams
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public void Kill()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
    }

    public async ValueTask DisposeAsync()
    {
        Kill();
        await _process.WaitForExitAsync();
        Http.Dispose();
        _process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_output) _output.AppendLine(line);
    }

    /// <summary>A loopback port nothing listens on right now.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

internal static class Posix
{
    public const int SigTerm = 15;

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill")]
    public static extern int Kill(int pid, int signal);
}
