using Everruns.Infrastructure;
using Microsoft.Extensions.Configuration;

namespace Everruns.Modules.Identity;

/// <summary>Identity and limit settings (README: configuration). A missing or malformed value stops the start.</summary>
public sealed record IdentityOptions(
    string ApiKeySecret,
    string? ApiKeySecretPrevious,
    string? BootstrapToken,
    TimeSpan TokenCacheTtl,
    int RateLimitRequests,
    TimeSpan RateLimitWindow,
    RateLimitStore RateLimitStore,
    long MaxRequestBodyBytes)
{
    public const int MinSecretLength = 32;

    public static IdentityOptions From(IConfiguration configuration)
    {
        var secret = configuration["API_KEY_SECRET"];
        if (string.IsNullOrEmpty(secret))
            throw new SettingException(
                "API_KEY_SECRET is not set. Access tokens are stored as HMAC-SHA256 hashes under it: set it to a random string " +
                $"of at least {MinSecretLength} characters (openssl rand -hex 32). ops/run generates one for local use.");
        if (secret.Length < MinSecretLength)
            throw new SettingException($"API_KEY_SECRET must be at least {MinSecretLength} characters");
        var previous = configuration["API_KEY_SECRET_PREVIOUS"] is { Length: > 0 } p ? p : null;
        if (previous is { Length: < MinSecretLength })
            throw new SettingException($"API_KEY_SECRET_PREVIOUS must be at least {MinSecretLength} characters");

        var bootstrap = configuration["BOOTSTRAP_ADMIN_TOKEN"] is { Length: > 0 } b ? b : null;
        if (bootstrap is not null && !AccessTokens.IsWellFormed(bootstrap))
            throw new SettingException("BOOTSTRAP_ADMIN_TOKEN must be a personal access token: evr_pat_ followed by 64 hex digits");

        var store = (configuration["RATE_LIMIT_STORE"] ?? "postgres").Trim().ToLowerInvariant() switch
        {
            "" or "postgres" => RateLimitStore.Postgres,
            "memory" => RateLimitStore.Memory,
            var other => throw new SettingException($"RATE_LIMIT_STORE must be 'postgres' or 'memory', got '{other}'"),
        };

        return new IdentityOptions(
            secret,
            previous,
            bootstrap,
            Settings.Seconds(configuration, "TOKEN_CACHE_TTL_SECS", 30),
            NonNegative(configuration, "RATE_LIMIT_REQUESTS", 600),
            Settings.Seconds(configuration, "RATE_LIMIT_WINDOW_SECS", 60),
            store,
            (long)Settings.Positive(configuration, "MAX_REQUEST_BODY_BYTES", 1024 * 1024));
    }

    private static int NonNegative(IConfiguration configuration, string key, int fallback)
    {
        var raw = configuration[key];
        if (string.IsNullOrWhiteSpace(raw)) return fallback;
        return int.TryParse(raw, out var value) && value >= 0
            ? value
            : throw new SettingException($"{key} must be a whole number, 0 or more (0 turns it off), got '{raw}'");
    }
}

public enum RateLimitStore
{
    Postgres,
    Memory,
}
