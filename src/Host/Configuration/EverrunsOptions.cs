using Everruns.Infrastructure;
using Everruns.Contracts;

namespace Everruns.Host.Configuration;

/// <summary>
/// Server settings, bound once from environment variables (see the README's configuration table).
/// </summary>
public sealed record EverrunsOptions
{
    public required string DatabaseUrl { get; init; }
    public string Host { get; init; } = "0.0.0.0";
    public int Port { get; init; } = 9000;
    public int DatabasePoolMax { get; init; } = 20;

    /// <summary>How many statements each pooled connection keeps prepared (0: none).</summary>
    public int DatabaseAutoPrepare { get; init; } = 100;
    public int ExpectedInstances { get; init; } = 1;
    public int PgMaxConnections { get; init; } = 100;
    public required string InstanceId { get; init; }

    /// <summary>How often each node records its heartbeat and checks the others (Wolverine health check).</summary>
    public TimeSpan NodeHealthCheck { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>On SIGTERM, how long in-flight turns may run on before they are handed to another instance.</summary>
    public TimeSpan ShutdownGrace { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// On SIGTERM, how long the instance keeps its listeners open (readiness 503, new requests refused with 503 shutting_down)
    /// before it stops them, so load balancers probing readiness take it out of rotation first.
    /// </summary>
    public TimeSpan ShutdownDrain { get; init; } = TimeSpan.Zero;

    /// <summary>Optional second port that speaks only cleartext HTTP/2 (h2c), for load balancers.</summary>
    public int? H2cPort { get; init; }

    public int Http2StreamWindowSize { get; init; } = 2 * 1024 * 1024;
    public int Http2ConnectionWindowSize { get; init; } = 16 * 1024 * 1024;
    public int Http2MaxConcurrentStreams { get; init; } = 256;

    /// <summary>Messages of one local queue (one message type) handled at once on this instance.</summary>
    public int HandlerParallelism { get; init; } = 16;

    /// <summary>How old a node's heartbeat may get before the others take over its durable work.</summary>
    public TimeSpan NodeStaleAfter { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// How long a durable message (a turn step) may wait in the inbox, claimed by a live instance that is neither running
    /// nor queueing it, before any instance takes it over (Wolverine's InboxStaleTime). It cannot be turned off: without it
    /// Wolverine's inbox has no stale clock column, and instances configured both ways would drop and add it in turn.
    /// </summary>
    public TimeSpan InboxStaleAfter { get; init; } = TimeSpan.FromSeconds(300);

    /// <summary>
    /// How long a durable message keeps being retried after transient database failures (PostgreSQL down, restarting,
    /// out of connections) before it is dead-lettered: a realistic outage, a failover or a restart for an upgrade.
    /// </summary>
    public TimeSpan DatabaseRetryBudget { get; init; } = TimeSpan.FromSeconds(300);

    /// <summary>Npgsql connection string for the shared pool, tagged with this instance's application name.</summary>
    public string ConnectionString
    {
        get
        {
            var builder = Configuration.DatabaseUrl.Parse(DatabaseUrl);
            builder.MaxPoolSize = DatabasePoolMax;
            // Fail fast while the server is down (unless the URL sets connect_timeout): 5 s, not Npgsql's 15.
            if (!DatabaseUrl.Contains("connect_timeout", StringComparison.OrdinalIgnoreCase) &&
                !DatabaseUrl.Contains("timeout=", StringComparison.OrdinalIgnoreCase))
                builder.Timeout = 5;
            builder.ApplicationName = ApplicationName;
            // No DISCARD ALL each time a pooled connection is reused: it cost a statement (and a transaction in
            // pg_stat_database) per use, about 20 per turn. Nothing here leaves session state behind: advisory locks
            // are transaction-scoped or released explicitly (migration lock, preflight), LISTEN has its own connections.
            builder.NoResetOnClose = true;
            // Statements run twice on a connection are prepared on it (per connection, up to this many): PostgreSQL
            // then skips parsing and planning them. This halved PostgreSQL's CPU per turn (ops/bench). A pooler in
            // transaction mode that does not track prepared statements needs DATABASE_AUTO_PREPARE=0.
            // Prepared statements are planned once: left to choose, PostgreSQL planned the event reads again on every call
            // (its cost model kept preferring a custom plan), and planning them took longer than running them. The plans
            // of these point and range lookups by key do not depend on the values.
            if (DatabaseAutoPrepare > 0)
            {
                builder.MaxAutoPrepare = DatabaseAutoPrepare;
                builder.AutoPrepareMinUsages = 2;
                builder.Options = string.IsNullOrWhiteSpace(builder.Options)
                    ? GenericPlans
                    : $"{builder.Options} {GenericPlans}";
            }

            // This build notifies listeners of the events it commits itself, after the commit (see EventNotifications).
            builder.Options = string.IsNullOrWhiteSpace(builder.Options)
                ? EventNotifications.ConnectionOption
                : $"{builder.Options} {EventNotifications.ConnectionOption}";
            return builder.ConnectionString;
        }
    }

    public string ApplicationName => $"everruns-{InstanceId}";

    /// <summary>Startup option of the pooled connections while statements are prepared (DATABASE_AUTO_PREPARE above 0).</summary>
    public const string GenericPlans = "-c plan_cache_mode=force_generic_plan";

    public static EverrunsOptions From(IConfiguration configuration)
    {
        var databaseUrl = configuration["DATABASE_URL"];
        if (string.IsNullOrWhiteSpace(databaseUrl))
            throw new SettingException(
                "DATABASE_URL is not set. Point it at PostgreSQL (postgres://user:pass@host:5432/db) " +
                "or start the server with ops/run, which starts a local PostgreSQL for you.");

        var options = new EverrunsOptions
        {
            DatabaseUrl = databaseUrl,
            Host = configuration["HOST"] is { Length: > 0 } host ? ValidHost(host) : "0.0.0.0",
            Port = PositiveInt(configuration, "PORT", 9000, max: 65535),
            DatabasePoolMax = PositiveInt(configuration, "DATABASE_POOL_MAX", 20),
            DatabaseAutoPrepare = PositiveInt(configuration, "DATABASE_AUTO_PREPARE", 100, max: 10_000, min: 0),
            ExpectedInstances = PositiveInt(configuration, "EXPECTED_INSTANCES", 1),
            PgMaxConnections = PositiveInt(configuration, "PG_MAX_CONNECTIONS", 100),
            InstanceId = configuration["INSTANCE_ID"] is { Length: > 0 } id ? id : NewInstanceId(),
            NodeHealthCheck = TimeSpan.FromSeconds(PositiveInt(configuration, "NODE_HEALTH_CHECK_SECS", 10, max: 3600)),
            NodeStaleAfter = TimeSpan.FromSeconds(PositiveInt(configuration, "NODE_STALE_SECS", 60, max: 86400)),
            ShutdownGrace = TimeSpan.FromSeconds(PositiveInt(configuration, "SHUTDOWN_GRACE_SECS", 30, max: 3600)),
            ShutdownDrain = TimeSpan.FromSeconds(PositiveInt(configuration, "SHUTDOWN_DRAIN_SECS", 0, max: 600, min: 0)),
            H2cPort = string.IsNullOrWhiteSpace(configuration["H2C_PORT"]) ? null : PositiveInt(configuration, "H2C_PORT", 0, max: 65535),
            Http2StreamWindowSize = PositiveInt(configuration, "HTTP2_STREAM_WINDOW_SIZE", 2 * 1024 * 1024),
            Http2ConnectionWindowSize = PositiveInt(configuration, "HTTP2_CONNECTION_WINDOW_SIZE", 16 * 1024 * 1024),
            Http2MaxConcurrentStreams = PositiveInt(configuration, "HTTP2_MAX_CONCURRENT_STREAMS", 256),
            HandlerParallelism = PositiveInt(configuration, "HANDLER_PARALLELISM", 16, max: 1000),
            InboxStaleAfter = TimeSpan.FromSeconds(PositiveInt(configuration, "INBOX_STALE_SECS", 300, max: 86400)),
            DatabaseRetryBudget = TimeSpan.FromSeconds(PositiveInt(configuration, "DB_RETRY_BUDGET_SECS", 300, min: 10, max: 86400)),
        };
        if (options.Http2StreamWindowSize < 65_535 || options.Http2ConnectionWindowSize < options.Http2StreamWindowSize)
            throw new SettingException(
                "HTTP2_STREAM_WINDOW_SIZE must be at least 65535 and HTTP2_CONNECTION_WINDOW_SIZE at least as large");
        if (options.NodeStaleAfter <= options.NodeHealthCheck)
            throw new SettingException("NODE_STALE_SECS must be longer than NODE_HEALTH_CHECK_SECS");

        // Fail at start, not on first query, when the URL cannot be understood.
        Configuration.DatabaseUrl.Parse(databaseUrl);
        return options;
    }

    private static string ValidHost(string host) =>
        host is "0.0.0.0" or "*" or "::" or "localhost" || System.Net.IPAddress.TryParse(host, out _)
            ? host
            : throw new SettingException($"HOST must be an IP address, 0.0.0.0 or localhost, got '{host}'");

    private static string NewInstanceId() =>
        $"{Environment.MachineName.ToLowerInvariant()}-{Convert.ToHexString(Guid.NewGuid().ToByteArray(), 0, 4).ToLowerInvariant()}";

    private static int PositiveInt(IConfiguration configuration, string key, int fallback, int max = int.MaxValue, int min = 1)
    {
        var raw = configuration[key];
        if (string.IsNullOrWhiteSpace(raw)) return fallback;
        if (!int.TryParse(raw, out var value) || value < min || value > max)
            throw new SettingException($"{key} must be a whole number from {min} to {max}, got '{raw}'");
        return value;
    }
}
