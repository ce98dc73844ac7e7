namespace Everruns.Bench;

/// <summary>
/// CPU time (user + system, from /proc) of the server nodes, of every PostgreSQL process and of this load generator,
/// so that a run can say where the machine's cores went per turn. Zero where /proc is not there.
/// </summary>
public sealed record CpuSample(double NodesSeconds, double PostgresSeconds, double BenchSeconds)
{
    private static readonly double TicksPerSecond = 100; // USER_HZ: 100 on every Linux architecture .NET runs on

    /// <summary>
    /// The postmaster of the PostgreSQL server measured (the bench's own, when it runs on this machine), or 0: then every
    /// PostgreSQL process on the machine is counted, another server's too (a test run's, started and stopped meanwhile).
    /// </summary>
    public static int PostmasterPid { get; set; }

    public static CpuSample Take(IEnumerable<int> nodePids)
    {
        var nodes = nodePids.Sum(pid => ProcessSeconds(pid, withChildren: true));
        var postgres = 0.0;
        var postmaster = PostmasterPid;
        if (Directory.Exists("/proc"))
            foreach (var dir in Directory.EnumerateDirectories("/proc"))
                if (int.TryParse(Path.GetFileName(dir), out var pid) && Command(pid) == "postgres")
                {
                    var parent = ParentPid(pid);
                    if (postmaster > 0 && pid != postmaster && parent != postmaster) continue;
                    // A postmaster with its reaped children: a backend or autovacuum worker that exits between two
                    // samples moves its CPU from its own figure to its parent's, instead of out of the sum.
                    postgres += ProcessSeconds(pid, withChildren: pid == postmaster || Command(parent) != "postgres");
                }

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

    private static int ParentPid(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1]);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return 0;
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
