using System.Diagnostics;
using Npgsql;

namespace Everruns.Tests.Infrastructure;

/// <summary>
/// The real PostgreSQL server the tests run against: DATABASE_URL when set (the README's test command
/// sets it), otherwise the project's local cluster, started through ops/pg-local.
/// Each fixture gets a database of its own so that tests never see each other's rows.
/// </summary>
public static class PostgresServer
{
    private static readonly Lazy<string> ServerUrl = new(ResolveServerUrl);

    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    public static async Task<string> CreateDatabaseAsync(string prefix)
    {
        var name = $"{prefix}_{Guid.NewGuid():N}"[..Math.Min(prefix.Length + 13, 63)].ToLowerInvariant();
        await using var connection = new NpgsqlConnection(AdminConnectionString());
        await connection.OpenAsync();
        await using (var cmd = new NpgsqlCommand($"create database \"{name}\"", connection))
            await cmd.ExecuteNonQueryAsync();
        return UrlFor(name);
    }

    public static async Task DropDatabaseAsync(string databaseUrl)
    {
        var name = new Uri(databaseUrl).AbsolutePath.TrimStart('/');
        NpgsqlConnection.ClearAllPools();
        await using var connection = new NpgsqlConnection(AdminConnectionString());
        await connection.OpenAsync();
        await using var cmd = new NpgsqlCommand($"drop database if exists \"{name}\" with (force)", connection);
        await cmd.ExecuteNonQueryAsync();
    }

    public static string ConnectionStringFor(string databaseUrl) =>
        Everruns.Host.Configuration.DatabaseUrl.Parse(databaseUrl).ConnectionString;

    public static async Task<T> ScalarAsync<T>(string databaseUrl, string sql)
    {
        await using var connection = new NpgsqlConnection(ConnectionStringFor(databaseUrl) + ";Pooling=false");
        await connection.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, connection);
        return (T)(await cmd.ExecuteScalarAsync())!;
    }

    public static async Task ExecuteAsync(string databaseUrl, string sql)
    {
        await using var connection = new NpgsqlConnection(ConnectionStringFor(databaseUrl) + ";Pooling=false");
        await connection.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, connection);
        await cmd.ExecuteNonQueryAsync();
    }

    /// <summary>The maintenance database, for creating and dropping test databases.</summary>
    public static string AdminConnectionString()
    {
        var builder = Everruns.Host.Configuration.DatabaseUrl.Parse(ServerUrl.Value);
        builder.Database = "postgres";
        builder.Pooling = false;
        return builder.ConnectionString;
    }

    private static string UrlFor(string database)
    {
        var builder = new UriBuilder(ServerUrl.Value) { Path = "/" + database };
        return builder.Uri.ToString().TrimEnd('/');
    }

    private static string ResolveServerUrl()
    {
        var fromEnvironment = Environment.GetEnvironmentVariable("DATABASE_URL");
        if (!string.IsNullOrWhiteSpace(fromEnvironment))
        {
            if (!fromEnvironment.StartsWith("postgres", StringComparison.OrdinalIgnoreCase))
                throw new InvalidOperationException("Tests need DATABASE_URL as a postgres:// URL");
            return fromEnvironment;
        }

        var start = new ProcessStartInfo("bash", [Path.Combine(RepositoryRoot, "ops", "pg-local"), "start"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"ops/pg-local start failed: {error}");
        return output.Trim().Split('\n').Last();
    }

    private static string FindRepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Everruns.sln")))
            dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Everruns.sln not found above the test binaries");
    }
}
