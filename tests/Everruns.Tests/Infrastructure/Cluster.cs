namespace Everruns.Tests.Infrastructure;

/// <summary>
/// N real Everruns.Host processes on loopback ports sharing one database, as behind a load balancer.
/// Heartbeats are fast so that a killed node is noticed in seconds.
/// </summary>
public sealed class Cluster : IAsyncDisposable
{
    public static readonly IReadOnlyDictionary<string, string> FastFailover = new Dictionary<string, string>
    {
        ["NODE_HEALTH_CHECK_SECS"] = "1",
        ["NODE_STALE_SECS"] = "3",
        ["MAINTENANCE_INTERVAL_SECS"] = "1",
        ["EXPECTED_INSTANCES"] = "3",
    };

    private readonly bool _ownsDatabase;

    public string DatabaseUrl { get; }
    public List<HostProcess> Nodes { get; } = [];
    public IDictionary<string, string> Settings { get; }

    private Cluster(string databaseUrl, bool ownsDatabase, IDictionary<string, string> settings)
    {
        DatabaseUrl = databaseUrl;
        _ownsDatabase = ownsDatabase;
        Settings = settings;
    }

    public static async Task<Cluster> StartAsync(int nodes = 3, IDictionary<string, string>? settings = null, string prefix = "everruns_cluster")
    {
        var merged = new Dictionary<string, string>(FastFailover);
        foreach (var (key, value) in settings ?? new Dictionary<string, string>()) merged[key] = value;
        var cluster = new Cluster(await PostgresServer.CreateDatabaseAsync(prefix), true, merged);
        try
        {
            for (var i = 0; i < nodes; i++) cluster.Nodes.Add(cluster.NewNode(i));
            await Task.WhenAll(cluster.Nodes.Select(n => n.WaitUntilReadyAsync(TimeSpan.FromSeconds(120))));
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts one more node (say, after one was killed).</summary>
    public async Task<HostProcess> AddNodeAsync()
    {
        var node = NewNode(Nodes.Count);
        Nodes.Add(node);
        await node.WaitUntilReadyAsync(TimeSpan.FromSeconds(120));
        return node;
    }

    private HostProcess NewNode(int index)
    {
        var settings = new Dictionary<string, string>(Settings) { ["INSTANCE_ID"] = $"node{index}-{Guid.NewGuid().ToString("N")[..4]}" };
        return HostProcess.Start(DatabaseUrl, settings);
    }

    public ApiClient Api(int node) => new(Nodes[node].Http);

    public async ValueTask DisposeAsync()
    {
        foreach (var node in Nodes) await node.DisposeAsync();
        if (_ownsDatabase) await PostgresServer.DropDatabaseAsync(DatabaseUrl);
    }
}
