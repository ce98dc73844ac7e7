using System.Text.RegularExpressions;

namespace Everruns.Host.Operations;

/// <summary>Configuration as operators may share it: secrets replaced by <c>***</c>, passwords cut out of URLs.</summary>
public static partial class Redaction
{
    public const string Mask = "***";

    private static readonly string[] SecretWords = ["SECRET", "KEY", "TOKEN", "PASSWORD", "PASSWD", "CREDENTIAL"];

    [GeneratedRegex(@"(?<=://[^:/@\s]+:)[^@\s]+(?=@)")]
    private static partial Regex UrlPassword();

    [GeneratedRegex(@"(?i)(password|pwd)=[^;]*")]
    private static partial Regex ConnectionStringPassword();

    public static bool IsSecret(string key) => SecretWords.Any(w => key.Contains(w, StringComparison.OrdinalIgnoreCase));

    public static string Value(string key, string value)
    {
        if (IsSecret(key)) return value.Length == 0 ? "" : Mask;
        return ConnectionStringPassword().Replace(UrlPassword().Replace(value, Mask), m => m.Groups[1].Value + "=" + Mask);
    }

    /// <summary>The Everruns settings of this process (the variables in the README's table), redacted.</summary>
    public static SortedDictionary<string, string> Configuration(IConfiguration configuration)
    {
        var result = new SortedDictionary<string, string>();
        foreach (var (key, value) in configuration.AsEnumerable())
        {
            if (value is null || key.Contains(':') || !Settings.Contains(key)) continue;
            result[key] = Value(key, value);
        }

        return result;
    }

    /// <summary>Every variable the server reads (README: configuration).</summary>
    public static readonly HashSet<string> Settings =
    [
        "DATABASE_URL", "HOST", "PORT", "H2C_PORT", "DATABASE_POOL_MAX", "EXPECTED_INSTANCES", "PG_MAX_CONNECTIONS", "INSTANCE_ID",
        "NODE_HEALTH_CHECK_SECS", "NODE_STALE_SECS", "INBOX_STALE_SECS", "DB_RETRY_BUDGET_SECS", "SHUTDOWN_GRACE_SECS", "SHUTDOWN_DRAIN_SECS", "OPENAI_BASE_URL", "OPENAI_API_KEY", "OPENAI_MODELS",
        "DEFAULT_MODEL", "OFFLINE_MODEL_CHUNK_DELAY_MS", "MODEL_RETRY_ATTEMPTS", "MODEL_RETRY_BASE_DELAY_MS", "MODEL_RETRY_MAX_WAIT_SECS",
        "MODEL_MAX_OUTPUT_TOKENS", "MODEL_PRICES", "SSE_HEARTBEAT_INTERVAL_SECS", "SSE_CONNECTION_CYCLE_SECS",
        "SSE_MAX_CONNECTIONS", "SSE_MAX_CONNECTIONS_PER_ORG", "SSE_MAX_CONNECTIONS_PER_SESSION",
        "MAINTENANCE_INTERVAL_SECS", "TURN_HEARTBEAT_SECS", "TURN_STALE_SECS", "CLIENT_TOOL_TIMEOUT_SECS", "WEB_FETCH_ALLOW_HOSTS", "WORKSPACE_FILE_SINGLE_MAX_BYTES", "WORKSPACE_FILE_MAX_BYTES", "SESSION_RETENTION_DAYS", "METRICS_RETENTION_DAYS",
        "METRICS_SAMPLE_SECS", "METRICS_SAMPLES", "HTTP2_STREAM_WINDOW_SIZE", "HTTP2_CONNECTION_WINDOW_SIZE",
        "HTTP2_MAX_CONCURRENT_STREAMS", "DATABASE_AUTO_PREPARE", "HANDLER_PARALLELISM", "TURN_CONCURRENCY", "SSE_CATCH_UP_SECS",
        "LOG_LEVEL", "LOG_FORMAT", "OTEL_EXPORTER_OTLP_ENDPOINT",
        "API_KEY_SECRET", "API_KEY_SECRET_PREVIOUS", "BOOTSTRAP_ADMIN_TOKEN", "TOKEN_CACHE_TTL_SECS", "SECRETS_ENCRYPTION_KEY",
        "SECRETS_ENCRYPTION_KEY_PREVIOUS", "RATE_LIMIT_REQUESTS", "RATE_LIMIT_WINDOW_SECS", "RATE_LIMIT_STORE", "MAX_REQUEST_BODY_BYTES",
    ];
}
