using Microsoft.Extensions.Configuration;

namespace Everruns.Tests.Infrastructure;

/// <summary>
/// The identity settings every test host starts with: a fixed API_KEY_SECRET and, through BOOTSTRAP_ADMIN_TOKEN, a
/// known admin token for the default org, which <see cref="ApiClient"/> sends unless a test chooses another.
/// </summary>
public static class TestAuth
{
    public const string Secret = "test-api-key-secret-7f3c9a1e5b2d4c6a8e0f1a2b3c4d5e6f";
    public const string EncryptionKey = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
    public const string AdminToken = "evr_pat_a11ce0000000000000000000000000000000000000000000000000000000beef";

    /// <summary>Settings a host needs; <paramref name="overrides"/> win.</summary>
    public static Dictionary<string, string> Settings(IDictionary<string, string>? overrides = null)
    {
        var settings = new Dictionary<string, string>
        {
            ["API_KEY_SECRET"] = Secret,
            ["BOOTSTRAP_ADMIN_TOKEN"] = AdminToken,
            ["SECRETS_ENCRYPTION_KEY"] = EncryptionKey,
            // Limits are on in tests, high enough that only the tests about them reach them.
            ["RATE_LIMIT_REQUESTS"] = "1000000",
        };
        foreach (var (key, value) in overrides ?? new Dictionary<string, string>()) settings[key] = value;
        return settings;
    }

    /// <summary>The server's sealing of stored credentials under <paramref name="key"/>, to open what it stored.</summary>
    public static Everruns.Modules.Providers.SecretBox SecretBox(string key = EncryptionKey) =>
        new(new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["SECRETS_ENCRYPTION_KEY"] = key }).Build());

    /// <summary>Sends <paramref name="token"/> (as the Everruns SDKs do: no Bearer) on every request of <paramref name="http"/>.</summary>
    public static HttpClient As(this HttpClient http, string? token, string? orgId = null)
    {
        http.DefaultRequestHeaders.Remove("Authorization");
        http.DefaultRequestHeaders.Remove("X-Org-Id");
        if (token is not null) http.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", token);
        if (orgId is not null) http.DefaultRequestHeaders.TryAddWithoutValidation("X-Org-Id", orgId);
        return http;
    }
}
