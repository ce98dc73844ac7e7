using System.Diagnostics;
using System.Net;

namespace Everruns.Tests.Infrastructure;

/// <summary>ops/Caddyfile run by Debian's caddy on a free port in front of the given instances (round robin, SSE unbuffered).</summary>
public sealed class Caddy : IAsyncDisposable
{
    public const string Missing = "caddy is not installed (Debian: apt-get install caddy); .ci/run installs it";

    public static string? Binary { get; } =
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, "caddy")).FirstOrDefault(File.Exists);

    private readonly Process _process;

    public int Port { get; }
    public Uri BaseAddress => new($"http://127.0.0.1:{Port}");

    private Caddy(Process process, int port)
    {
        _process = process;
        Port = port;
    }

    public static async Task<Caddy> StartAsync(IEnumerable<HostProcess> upstreams)
    {
        var port = HostProcess.FreePort();
        var start = new ProcessStartInfo(Binary!, ["run", "--config", Path.Combine(PostgresServer.RepositoryRoot, "ops", "Caddyfile"), "--adapter", "caddyfile"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["LB_PORT"] = port.ToString();
        start.Environment["EVERRUNS_UPSTREAMS"] = string.Join(" ", upstreams.Select(n => $"127.0.0.1:{n.Port}"));
        start.Environment["HOME"] = Path.GetTempPath();
        var caddy = new Caddy(Process.Start(start)!, port);
        using var http = new HttpClient { BaseAddress = caddy.BaseAddress, Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            try
            {
                if ((await http.GetAsync("/health")).StatusCode == HttpStatusCode.OK) return caddy;
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline)
            {
            }

            if (DateTime.UtcNow > deadline)
            {
                await caddy.DisposeAsync();
                throw new TimeoutException("caddy did not come up");
            }

            await Task.Delay(200);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
        _process.Dispose();
    }
}
