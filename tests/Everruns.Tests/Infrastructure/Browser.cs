using Microsoft.Playwright;

namespace Everruns.Tests.Infrastructure;

/// <summary>
/// Debian's chromium driven by Playwright (the package's own browser download cannot work here): headless, one browser
/// per test. Tests skip with a clear message only when chromium is not installed (.ci/run installs it).
/// </summary>
public sealed class Browser : IAsyncDisposable
{
    public static string? Chromium { get; } = new[] { "/usr/bin/chromium", "/usr/bin/chromium-browser" }.FirstOrDefault(File.Exists);

    public const string Missing = "chromium is not installed (Debian: apt-get install chromium); .ci/run installs it";

    private readonly IPlaywright _playwright;

    public IBrowser Instance { get; }

    private Browser(IPlaywright playwright, IBrowser browser)
    {
        _playwright = playwright;
        Instance = browser;
    }

    public static async Task<Browser> LaunchAsync()
    {
        var playwright = await Playwright.CreateAsync();
        var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium, Headless = true, Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        });
        return new Browser(playwright, browser);
    }

    public async Task<IBrowserContext> ContextAsync(string baseUrl, int width = 1280, int height = 800) =>
        await Instance.NewContextAsync(new BrowserNewContextOptions { BaseURL = baseUrl, ViewportSize = new ViewportSize { Width = width, Height = height } });

    /// <summary>Where the tests keep the screenshots the README shows.</summary>
    public static string ScreenshotPath(string name) => Path.Combine(PostgresServer.RepositoryRoot, "docs", "screenshots", name);

    public async ValueTask DisposeAsync()
    {
        await Instance.DisposeAsync();
        _playwright.Dispose();
    }
}
