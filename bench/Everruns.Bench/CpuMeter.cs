namespace Everruns.Bench;

/// <summary>
/// CPU time (user + system, from /proc) of the server nodes, of every PostgreSQL process and of this load generator,
/// so that a run can say where the machine's cores went per turn. Zero where /proc is not there.
/// </summary>
public sealed record CpuSample(double NodesSeconds, double PostgresSeconds, double BenchSeconds)
{
    private static readonly double TicksPerSecond = 100; // USER_HZ: 100 on every Linux architecture .NET runs on

    public static CpuSample Take(IEnumerable<int> nodePids)
    {
        var nodes = nodePids.Sum(pid => ProcessSeconds(pid, withChildren: true));
        var postgres = 0.0;
        if (Directory.Exists("/proc"))
            foreach (var dir in Directory.EnumerateDirectories("/proc"))
                if (int.TryParse(Path.GetFileName(dir), out var pid) && Command(pid) == "postgres")
                    postgres += ProcessSeconds(pid, withChildren: false);
        return new CpuSample(nodes, postgres, ProcessSeconds(Environment.ProcessId, withChildren: false));
    }

    public static CpuSample operator -(CpuSample after, CpuSample before) =>
        new(after.NodesSeconds - before.NodesSeconds, after.PostgresSeconds - before.PostgresSeconds, after.BenchSeconds - before.BenchSeconds);

    public static CpuSample operator +(CpuSample a, CpuSample b) =>
        new(a.NodesSeconds + b.NodesSeconds, a.PostgresSeconds + b.PostgresSeconds, a.BenchSeconds + b.BenchSeconds);

    private static string? Command(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/comm").Trim();
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>utime + stime of a process (fields 14 and 15 of /proc/PID/stat), and of its reaped children if asked.</summary>
    private static double ProcessSeconds(int pid, bool withChildren)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // The command name (field 2) may hold spaces; the fields after it start past its closing parenthesis.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var ticks = long.Parse(fields[11]) + long.Parse(fields[12]);
            if (withChildren) ticks += long.Parse(fields[13]) + long.Parse(fields[14]);
            return ticks / TicksPerSecond;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return 0;
        }
    }
}
