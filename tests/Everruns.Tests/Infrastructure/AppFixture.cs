using Alba;

namespace Everruns.Tests.Infrastructure;

/// <summary>One Everruns host per test assembly, on a database of its own.</summary>
public sealed class AppFixture : IAsyncLifetime
{
    public IAlbaHost Host { get; private set; } = null!;
    public string DatabaseUrl { get; private set; } = null!;

    /// <summary>A client of the public API on the shared host.</summary>
    public ApiClient Api => new(Host.Server.CreateClient());

    /// <summary>
    /// Beside every host's: model retries that wait little (the fake providers' transient errors), and a price for one of
    /// the fake Anthropic's models (US dollars per million tokens).
    /// </summary>
    public static readonly Dictionary<string, string> Settings = new()
    {
        ["MODEL_RETRY_BASE_DELAY_MS"] = "50",
        ["MODEL_PRICES"] = """{"claude-fake-large": {"input": 3, "output": 15, "cache_read": 0.3}}""",
    };

    public async Task InitializeAsync()
    {
        DatabaseUrl = await PostgresServer.CreateDatabaseAsync("everruns_app");
        Host = await TestHost.StartAsync(DatabaseUrl, settings: Settings);
    }

    /// <summary>A client for the admin of a new org on the shared host (what it creates is its own, invisible to other tests).</summary>
    public async Task<ApiClient> OrgAdminAsync(string name)
    {
        var org = (string)(await Api.PostAsync("/v1/orgs", new { name = $"{name}-{Guid.NewGuid():N}"[..Math.Min(40, name.Length + 33)] })).Object["id"]!;
        var member = await Api.PostAsync($"/v1/orgs/{org}/members", new { name = $"{name} admin", role = "admin" });
        return new ApiClient(Host.Server.CreateClient().As((string)member.Object["token"]!["token"]!));
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
