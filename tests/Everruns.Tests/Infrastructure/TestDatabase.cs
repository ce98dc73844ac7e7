namespace Everruns.Tests.Infrastructure;

/// <summary>A database of its own for one test, dropped when the test is done (<c>await using</c>).</summary>
public sealed class TestDatabase : IAsyncDisposable
{
    public string Url { get; }

    private TestDatabase(string url) => Url = url;

    public static async Task<TestDatabase> CreateAsync(string prefix) => new(await PostgresServer.CreateDatabaseAsync(prefix));

    public ValueTask DisposeAsync() => new(PostgresServer.DropDatabaseAsync(Url));

    /// <summary>
    /// An outage: the server refuses new connections to this database and ends the open ones, until the returned
    /// handle is disposed.
    /// </summary>
    public async Task<IAsyncDisposable> RefuseConnectionsAsync()
    {
        var name = new Uri(Url).AbsolutePath.TrimStart('/');
        var admin = Url.Replace(name, "postgres");
        await PostgresServer.ExecuteAsync(admin, $"alter database \"{name}\" allow_connections false; " +
                                                 $"select pg_terminate_backend(pid) from pg_stat_activity where datname = '{name}'");
        return new Reopen(() => PostgresServer.ExecuteAsync(admin, $"alter database \"{name}\" allow_connections true"));
    }

    private sealed class Reopen(Func<Task> reopen) : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => new(reopen());
    }
}
