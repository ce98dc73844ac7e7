using Everruns.Host.Configuration;
using Everruns.Host.Schema;
using Marten;
using Npgsql;
using Weasel.Core;

namespace Everruns.Host.Operations;

/// <summary>
/// <c>dotnet Everruns.Host.dll preflight</c>: checks a deployment before traffic reaches it, one line per check,
/// exit 1 when any fails: database reachable, migrations current, LISTEN/NOTIFY round trip, session-level advisory
/// locks (which a transaction-mode pooler breaks), pool sizing against the server's max_connections, secrets present.
/// </summary>
public sealed class Preflight(EverrunsOptions options, IConfiguration configuration, IDocumentStore store)
{
    public sealed record Check(string Name, bool Ok, string Detail, bool Warning = false);

    public async Task<int> RunAsync(TextWriter output, CancellationToken ct)
    {
        var checks = await CheckAllAsync(ct);
        foreach (var check in checks)
            await output.WriteLineAsync($"{(check.Ok ? check.Warning ? "warn" : "ok  " : "FAIL")}  {check.Name}: {check.Detail}");
        var failed = checks.Count(c => !c.Ok);
        await output.WriteLineAsync(failed == 0 ? "preflight passed" : $"preflight failed: {failed} check(s)");
        return failed == 0 ? 0 : 1;
    }

    public async Task<List<Check>> CheckAllAsync(CancellationToken ct)
    {
        var checks = new List<Check>();
        var connectionString = new NpgsqlConnectionStringBuilder(options.ConnectionString) { Pooling = false, Timeout = 5 }.ConnectionString;
        int serverMax;
        try
        {
            await using var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync(ct);
            await using var cmd = new NpgsqlCommand("select current_setting('server_version'), current_setting('max_connections')::int", connection);
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            await reader.ReadAsync(ct);
            serverMax = reader.GetInt32(1);
            checks.Add(new Check("database reachable", true, $"PostgreSQL {reader.GetString(0)} at {connection.Host}:{connection.Port}/{connection.Database}"));
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or System.Net.Sockets.SocketException)
        {
            checks.Add(new Check("database reachable", false, $"{e.GetBaseException().Message} (check DATABASE_URL)"));
            checks.AddRange(Secrets());
            return checks;
        }

        checks.Add(await MigrationsAsync(connectionString, ct));
        checks.Add(await NotifyRoundTripAsync(connectionString, ct));
        checks.Add(await AdvisoryLocksAsync(connectionString, ct));
        var total = (long)options.DatabasePoolMax * options.ExpectedInstances;
        checks.Add(total <= serverMax * 0.8
            ? new Check("pool sizing", true, $"DATABASE_POOL_MAX {options.DatabasePoolMax} x EXPECTED_INSTANCES {options.ExpectedInstances} = {total} of max_connections {serverMax}")
            : new Check("pool sizing", false, $"DATABASE_POOL_MAX {options.DatabasePoolMax} x EXPECTED_INSTANCES {options.ExpectedInstances} = {total} exceeds 80% of the server's max_connections {serverMax}"));
        checks.AddRange(Secrets());
        return checks;
    }

    private async Task<Check> MigrationsAsync(string connectionString, CancellationToken ct)
    {
        try
        {
            await using var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync(ct);
            await using var cmd = new NpgsqlCommand(
                $"select to_regclass('{SchemaMigrator.WolverineSchema}.wolverine_incoming_envelopes') is not null and to_regclass('{SchemaMigrator.LedgerTable}') is not null",
                connection);
            if (!(bool)(await cmd.ExecuteScalarAsync(ct))!)
                return new Check("migrations current", false, "the schema has not been applied: run the migrate verb (or start one instance without --no-migrations)");
            var migration = await store.Storage.Database.CreateMigrationAsync(ct);
            return migration.Difference == SchemaPatchDifference.None
                ? new Check("migrations current", true, "schema matches this build")
                : new Check("migrations current", false, $"schema differs from this build ({migration.Difference}): run the migrate verb");
        }
        catch (Exception e) when (e is NpgsqlException or InvalidOperationException)
        {
            return new Check("migrations current", false, e.GetBaseException().Message);
        }
    }

    private static async Task<Check> NotifyRoundTripAsync(string connectionString, CancellationToken ct)
    {
        var channel = "everruns_preflight_" + Guid.NewGuid().ToString("N")[..8];
        await using var listener = new NpgsqlConnection(connectionString);
        await listener.OpenAsync(ct);
        var received = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        listener.Notification += (_, e) => received.TrySetResult(e.Payload);
        await using (var listen = new NpgsqlCommand($"listen {channel}", listener)) await listen.ExecuteNonQueryAsync(ct);

        await using (var sender = new NpgsqlConnection(connectionString))
        {
            await sender.OpenAsync(ct);
            await using var notify = new NpgsqlCommand($"select pg_notify('{channel}', 'ping')", sender);
            await notify.ExecuteNonQueryAsync(ct);
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(3));
        try
        {
            while (!received.Task.IsCompleted) await listener.WaitAsync(timeout.Token);
            return new Check("LISTEN/NOTIFY", true, "a notification went from one connection to another");
        }
        catch (OperationCanceledException)
        {
            return new Check("LISTEN/NOTIFY", false,
                "no notification arrived within 3 s: SSE on other instances and cancels need LISTEN/NOTIFY (a transaction-mode pooler drops it)");
        }
    }

    private static async Task<Check> AdvisoryLocksAsync(string connectionString, CancellationToken ct)
    {
        var key = Random.Shared.NextInt64(1, long.MaxValue);
        await using var holder = new NpgsqlConnection(connectionString);
        await holder.OpenAsync(ct);
        await using (var take = new NpgsqlCommand("select pg_advisory_lock(@k)", holder))
        {
            take.Parameters.AddWithValue("k", key);
            await take.ExecuteNonQueryAsync(ct);
        }

        try
        {
            // A second statement on the same connection must still see the lock held by the same backend.
            await using var held = new NpgsqlCommand(
                "select count(*) from pg_locks where locktype = 'advisory' and pid = pg_backend_pid() and granted", holder);
            var stillHeld = (long)(await held.ExecuteScalarAsync(ct))! > 0;
            await using var other = new NpgsqlConnection(connectionString);
            await other.OpenAsync(ct);
            await using var attempt = new NpgsqlCommand("select pg_try_advisory_lock(@k)", other);
            attempt.Parameters.AddWithValue("k", key);
            var excluded = !(bool)(await attempt.ExecuteScalarAsync(ct))!;
            return stillHeld && excluded
                ? new Check("session advisory locks", true, "held across statements and exclusive between connections")
                : new Check("session advisory locks", false,
                    "a session-level advisory lock did not stay with its connection: a transaction-mode pooler (such as PgBouncer " +
                    "with pool_mode=transaction) sits in front of PostgreSQL; point DATABASE_URL at PostgreSQL or a session-mode pool");
        }
        finally
        {
            await using var release = new NpgsqlCommand("select pg_advisory_unlock_all()", holder);
            await release.ExecuteNonQueryAsync(CancellationToken.None);
        }
    }

    private IEnumerable<Check> Secrets()
    {
        if (!string.IsNullOrWhiteSpace(configuration["OPENAI_BASE_URL"]))
            yield return string.IsNullOrWhiteSpace(configuration["OPENAI_API_KEY"])
                ? new Check("secrets", false, "OPENAI_BASE_URL is set but OPENAI_API_KEY is not")
                : new Check("secrets", true, "OPENAI_API_KEY present");
        if (string.IsNullOrWhiteSpace(configuration["API_KEY_SECRET"]))
            yield return new Check("api key secret", false, "API_KEY_SECRET is not set: the server refuses to start without it");
        else yield return new Check("api key secret", true, string.IsNullOrWhiteSpace(configuration["API_KEY_SECRET_PREVIOUS"])
            ? "API_KEY_SECRET present"
            : "API_KEY_SECRET present; API_KEY_SECRET_PREVIOUS set (a rotation window is open: see rehash-api-keys)");
        yield return string.IsNullOrWhiteSpace(configuration["SECRETS_ENCRYPTION_KEY"])
            ? new Check("encryption key", true, "SECRETS_ENCRYPTION_KEY is not set: LLM provider credentials cannot be stored", Warning: true)
            : new Check("encryption key", true, "SECRETS_ENCRYPTION_KEY present");
    }
}
