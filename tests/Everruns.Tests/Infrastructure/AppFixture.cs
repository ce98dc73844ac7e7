using Alba;

namespace Everruns.Tests.Infrastructure;

/// <summary>One Everruns host per test assembly, on a database of its own.</summary>
public sealed class AppFixture : IAsyncLifetime
{
    public IAlbaHost Host { get; private set; } = null!;
    public string DatabaseUrl { get; private set; } = null!;

    /// <summary>A client of the public API on the shared host.</summary>
    public ApiClient Api => new(Host.Server.CreateClient());

    public async Task InitializeAsync()
    {
        DatabaseUrl = await PostgresServer.CreateDatabaseAsync("everruns_app");
        Host = await TestHost.StartAsync(DatabaseUrl);
    }

    public async Task DisposeAsync()
    {
        await Host.DisposeAsync();
        await PostgresServer.DropDatabaseAsync(DatabaseUrl);
    }
}

[CollectionDefinition(Name)]
public sealed class AppCollection : ICollectionFixture<AppFixture>
{
    public const string Name = "app";
}
