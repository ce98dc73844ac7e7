namespace Everruns.Tests.Infrastructure;

/// <summary>A database of its own for one test, dropped when the test is done (<c>await using</c>).</summary>
public sealed class TestDatabase : IAsyncDisposable
{
    public string Url { get; }

    private TestDatabase(string url) => Url = url;

    public static async Task<TestDatabase> CreateAsync(string prefix) => new(await PostgresServer.CreateDatabaseAsync(prefix));

    public ValueTask DisposeAsync() => new(PostgresServer.DropDatabaseAsync(Url));
}
