using Everruns.Host.Configuration;
using Everruns.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Everruns.Tests.Foundation;

public sealed class ConfigurationTests
{
    /// <summary>The server's options from these settings, as the environment would give them.</summary>
    internal static EverrunsOptions Options(params (string Key, string Value)[] values) =>
        EverrunsOptions.From(new ConfigurationBuilder()
            .AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value)))
            .Build());

    [Fact]
    public void a_postgres_url_becomes_an_npgsql_connection_string()
    {
        var builder = DatabaseUrl.Parse("postgres://app:s%40cret@db.internal:6543/everruns?sslmode=require");
        builder.Host.ShouldBe("db.internal");
        builder.Port.ShouldBe(6543);
        builder.Username.ShouldBe("app");
        builder.Password.ShouldBe("s@cret");
        builder.Database.ShouldBe("everruns");
        builder.SslMode.ShouldBe(Npgsql.SslMode.Require);
    }

    [Fact]
    public void an_npgsql_connection_string_is_accepted_as_is()
    {
        var builder = DatabaseUrl.Parse("Host=localhost;Port=5433;Username=u;Database=d");
        builder.Port.ShouldBe(5433);
        builder.Database.ShouldBe("d");
    }

    [Fact]
    public void defaults_apply_when_variables_are_unset()
    {
        var options = Options(("DATABASE_URL", "postgres://u@localhost/db"));
        options.Host.ShouldBe("0.0.0.0");
        options.Port.ShouldBe(9000);
        options.ExpectedInstances.ShouldBe(1);
        options.PgMaxConnections.ShouldBe(100);
        options.DatabasePoolMax.ShouldBe(20);
        options.ConnectionString.ShouldContain("Application Name=everruns-" + options.InstanceId);
        options.ConnectionString.ShouldContain("Maximum Pool Size=20");
    }

    [Fact]
    public void a_missing_database_url_is_a_clear_start_up_error()
    {
        Should.Throw<InvalidOperationException>(() => Options()).Message.ShouldContain("DATABASE_URL is not set");
    }

    [Theory]
    [InlineData("PORT", "abc")]
    [InlineData("PORT", "70000")]
    [InlineData("EXPECTED_INSTANCES", "0")]
    [InlineData("DATABASE_POOL_MAX", "-5")]
    [InlineData("DATABASE_AUTO_PREPARE", "-1")]
    [InlineData("SHUTDOWN_DRAIN_SECS", "-1")]
    [InlineData("SHUTDOWN_DRAIN_SECS", "601")]
    [InlineData("INBOX_STALE_SECS", "0")]
    [InlineData("INBOX_STALE_SECS", "86401")]
    public void a_malformed_number_is_a_clear_start_up_error(string key, string value)
    {
        Should.Throw<InvalidOperationException>(() => Options(("DATABASE_URL", "postgres://u@localhost/db"), (key, value)))
            .Message.ShouldContain(key);
    }

    [Fact]
    public void stranded_inbox_messages_are_released_after_five_minutes_by_default()
    {
        Options(("DATABASE_URL", "postgres://u@h/d")).InboxStaleAfter.ShouldBe(TimeSpan.FromMinutes(5));
        Options(("DATABASE_URL", "postgres://u@h/d"), ("INBOX_STALE_SECS", "45")).InboxStaleAfter.ShouldBe(TimeSpan.FromSeconds(45));
    }

    /// <summary>The support bundle shows the settings the configuration page's table documents, each of them.</summary>
    [Fact]
    public void every_documented_setting_is_shown_in_the_support_bundle()
    {
        var page = File.ReadAllLines(Path.Combine(PostgresServer.RepositoryRoot, "docs", "configuration.md"));
        var documented = page
            .Where(line => line.StartsWith("| `", StringComparison.Ordinal))
            .SelectMany(line => System.Text.RegularExpressions.Regex.Matches(line.Split('|')[1], "`([A-Z][A-Z0-9_]+)`").Select(m => m.Groups[1].Value))
            .Where(name => name.Contains('_') || name is "HOST" or "PORT")
            .ToHashSet();
        documented.ShouldContain("INBOX_STALE_SECS");
        documented.Except(Everruns.Host.Operations.Redaction.Settings).ShouldBeEmpty();
    }

    [Fact]
    public void pool_sizing_warns_past_80_percent_of_max_connections()
    {
        PoolSizing.Warning(Options(("DATABASE_URL", "postgres://u@h/d"), ("DATABASE_POOL_MAX", "50"),
            ("EXPECTED_INSTANCES", "3"), ("PG_MAX_CONNECTIONS", "200"))).ShouldBeNull(); // 150 <= 160
        PoolSizing.Warning(Options(("DATABASE_URL", "postgres://u@h/d"), ("DATABASE_POOL_MAX", "50"),
            ("EXPECTED_INSTANCES", "3"), ("PG_MAX_CONNECTIONS", "100")))!.ShouldContain("150 exceeds 80%");
    }
}

public sealed class AutoPrepareTests
{
    /// <summary>Prepared statements on the connection after one query ran three times.</summary>
    private static async Task<long> PreparedAfterRepeatsAsync(string databaseUrl, params (string Key, string Value)[] settings)
    {
        var options = ConfigurationTests.Options([.. settings, ("DATABASE_URL", databaseUrl)]);
        await using var dataSource = Npgsql.NpgsqlDataSource.Create(options.ConnectionString);
        await using var connection = await dataSource.OpenConnectionAsync();
        for (var i = 0; i < 3; i++)
        {
            await using var query = new Npgsql.NpgsqlCommand("select count(*) from pg_class where relname = $1", connection);
            query.Parameters.AddWithValue("mt_events");
            await query.ExecuteScalarAsync();
        }

        await using var prepared = new Npgsql.NpgsqlCommand("select count(*) from pg_prepared_statements", connection);
        return (long)(await prepared.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task statements_repeated_on_a_connection_are_prepared_unless_turned_off()
    {
        await using var database = await TestDatabase.CreateAsync("autoprep");
        (await PreparedAfterRepeatsAsync(database.Url)).ShouldBeGreaterThan(0);
        (await PreparedAfterRepeatsAsync(database.Url, ("DATABASE_AUTO_PREPARE", "0"))).ShouldBe(0);
    }

    /// <summary>plan_cache_mode of a pooled connection, and how a prepared range read was planned over eight runs.</summary>
    private static async Task<(string Mode, long Generic, long Custom)> PlansAsync(string databaseUrl, params (string Key, string Value)[] settings)
    {
        var options = ConfigurationTests.Options([.. settings, ("DATABASE_URL", databaseUrl)]);
        await using var dataSource = Npgsql.NpgsqlDataSource.Create(options.ConnectionString);
        await using var connection = await dataSource.OpenConnectionAsync();
        for (var i = 0; i < 8; i++)
        {
            await using var query = new Npgsql.NpgsqlCommand(
                "select count(*) from pg_class where relpages >= $1 and relname = any($2)", connection);
            query.Parameters.AddWithValue(i % 2);
            query.Parameters.AddWithValue(new[] { "mt_events", "pg_class" });
            await query.ExecuteScalarAsync();
        }

        await using var show = new Npgsql.NpgsqlCommand(
            "select current_setting('plan_cache_mode'), coalesce(sum(generic_plans), 0)::bigint, coalesce(sum(custom_plans), 0)::bigint " +
            "from pg_prepared_statements where statement like '%relname = any%'", connection);
        await using var reader = await show.ExecuteReaderAsync();
        await reader.ReadAsync();
        return (reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2));
    }

    [Fact]
    public async Task prepared_statements_are_planned_once_and_a_urls_own_options_are_kept()
    {
        await using var database = await TestDatabase.CreateAsync("genericplans");
        var (mode, generic, custom) = await PlansAsync(database.Url);
        mode.ShouldBe("force_generic_plan");
        custom.ShouldBe(0);
        generic.ShouldBeGreaterThan(0);

        // Without prepared statements (behind a transaction-mode pooler) the server's own choice stands.
        (await PlansAsync(database.Url, ("DATABASE_AUTO_PREPARE", "0"))).Mode.ShouldBe("auto");

        // Options given in DATABASE_URL still apply.
        var withOptions = database.Url + (database.Url.Contains('?') ? "&" : "?") + "options=" + Uri.EscapeDataString("-c statement_timeout=4321");
        var options = ConfigurationTests.Options(("DATABASE_URL", withOptions));
        await using var dataSource = Npgsql.NpgsqlDataSource.Create(options.ConnectionString);
        await using var settings = dataSource.CreateCommand(
            "select current_setting('statement_timeout') || ' ' || current_setting('plan_cache_mode')");
        ((string)(await settings.ExecuteScalarAsync())!).ShouldBe("4321ms force_generic_plan");
    }
}

public sealed class PoolWarningTests
{
    [Fact]
    public async Task the_host_logs_a_warning_at_start_when_the_pools_oversubscribe_postgres()
    {
        await using var database = await TestDatabase.CreateAsync("everruns_pool");
        var url = database.Url;
        var logs = new LogCapture();
        await using (await TestHost.StartAsync(url, logs, new Dictionary<string, string>
                     {
                         ["DATABASE_POOL_MAX"] = "50", ["EXPECTED_INSTANCES"] = "3", ["PG_MAX_CONNECTIONS"] = "100",
                     }))
        {
            logs.Entries.ShouldContain(e => e.Level == LogLevel.Warning && e.Message.Contains("oversubscribed"));
        }

        var quiet = new LogCapture();
        await using (await TestHost.StartAsync(url, quiet))
        {
            quiet.Entries.ShouldNotContain(e => e.Message.Contains("oversubscribed"));
        }
    }
}

/// <summary>What a person running the server reads: a bad setting in one line, a good start without framework noise.</summary>
public sealed class StartupConsoleTests
{
    [Theory]
    [InlineData("API_KEY_SECRET", "", "API_KEY_SECRET is not set")]
    [InlineData("PORT", "abc", "PORT must be a whole number")]
    [InlineData("SSE_HEARTBEAT_INTERVAL_SECS", "soon", "SSE_HEARTBEAT_INTERVAL_SECS must be a positive number")]
    [InlineData("DATABASE_URL", "mysql://nowhere", "DATABASE_URL")]
    // The modules' own settings, read as their services are added.
    [InlineData("SSE_MAX_CONNECTIONS", "many", "SSE_MAX_CONNECTIONS")]
    [InlineData("TURN_HEARTBEAT_SECS", "-1", "TURN_HEARTBEAT_SECS")]
    [InlineData("MAINTENANCE_INTERVAL_SECS", "soon", "MAINTENANCE_INTERVAL_SECS")]
    [InlineData("OFFLINE_MODEL_CHUNK_DELAY_MS", "x", "OFFLINE_MODEL_CHUNK_DELAY_MS")]
    [InlineData("CLIENT_TOOL_TIMEOUT_SECS", "0", "CLIENT_TOOL_TIMEOUT_SECS")]
    public async Task a_missing_or_malformed_setting_stops_the_server_with_one_line_and_exit_code_1(string key, string value, string says)
    {
        var (exitCode, output) = await HostProcess.RunVerbAsync("postgres://u@127.0.0.1:1/none", new Dictionary<string, string> { [key] = value });
        exitCode.ShouldBe(1, output);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(l => !l.Contains(" info: ", StringComparison.Ordinal)).ToList(); // the log lines of the start before it
        lines.ShouldHaveSingleItem(output);
        lines[0].ShouldStartWith("everruns: ");
        lines[0].ShouldContain(says);
        output.ShouldNotContain("   at ");
    }

    [Fact]
    public async Task a_server_starting_in_a_terminal_prints_no_framework_command_discovery()
    {
        await using var database = await TestDatabase.CreateAsync("everruns_console");
        await using var host = HostProcess.Start(database.Url);
        await host.WaitUntilReadyAsync();
        host.Output.ShouldNotContain("for commands");
        host.Output.ShouldContain("Everruns ");
    }
}
