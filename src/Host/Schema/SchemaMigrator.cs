using Everruns.Host.Configuration;
using Marten;
using Npgsql;
using Weasel.Core;
using Wolverine.Runtime;

namespace Everruns.Host.Schema;

/// <summary>
/// Applies the schema: Marten's (its documents and events, and every object the modules declared to it: tables,
/// functions, triggers) and Wolverine's, each by its own migration. One PostgreSQL advisory lock around the check, the
/// migrations and the ledger row makes them one step, so that instances starting together apply and record a change
/// exactly once; every run that changed anything leaves a ledger row (<see cref="Ledger"/>, declared to Marten too).
/// </summary>
public sealed class SchemaMigrator(
    NpgsqlDataSource dataSource,
    IDocumentStore store,
    IWolverineRuntime wolverine,
    EverrunsOptions options,
    ILogger<SchemaMigrator> logger)
{
    // Arbitrary, fixed key: every Everruns instance (and version) contends on the same lock.
    public const long AdvisoryLockKey = 0x45766572_72756e73; // "Everruns"
    public const string LedgerTable = "everruns_ops.schema_migrations";

    public async Task<bool> MigrateAsync(CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await Execute(connection, "select pg_advisory_lock(@key)", ct, AdvisoryLockKey);
        try
        {
            var migration = await store.Storage.Database.CreateMigrationAsync(ct);
            var martenChanged = migration.Difference != SchemaPatchDifference.None;
            // Missing tables, or a new build's Wolverine settings that change them (INBOX_STALE_SECS adds a column).
            var wolverineChanged = await WolverineSchemaDiffersAsync(ct);

            if (!martenChanged && !wolverineChanged)
            {
                logger.LogInformation("Schema is current; nothing to migrate");
                return false;
            }

            var changes = new List<string>();
            if (martenChanged)
            {
                logger.LogInformation("Marten schema objects to apply: {Objects}", string.Join(", ", migration.Deltas
                    .Where(d => d.Difference != SchemaPatchDifference.None).Select(d => $"{d.SchemaObject.Identifier} ({d.Difference})")));
                await store.Storage.ApplyAllConfiguredChangesToDatabaseAsync();
                changes.Add("marten");
            }

            await wolverine.Storage.Admin.MigrateAsync();
            if (wolverineChanged) changes.Add("wolverine");

            await Execute(connection,
                $"insert into {LedgerTable} (instance_id, version, changes) values (@instance, @version, @changes)",
                ct, null, ("instance", options.InstanceId), ("version", BuildInfo.Version), ("changes", string.Join(",", changes)));
            logger.LogInformation("Schema migrated ({Changes}) by {Instance}", string.Join(", ", changes), options.InstanceId);
            return true;
        }
        finally
        {
            // The lock is session-level: release it explicitly before the connection goes back to the pool.
            await Execute(connection, "select pg_advisory_unlock(@key)", CancellationToken.None, AdvisoryLockKey);
        }
    }

    /// <summary>The ledger of schema changes: which instance and build applied what, and when.</summary>
    public static Weasel.Postgresql.Tables.Table Ledger()
    {
        var ledger = new Weasel.Postgresql.Tables.Table(LedgerTable);
        ledger.AddColumn("id", "bigint").AsPrimaryKey().BigAutoIncrement();
        ledger.AddColumn("applied_at", "timestamptz").NotNull().DefaultValueByExpression("now()");
        ledger.AddColumn("instance_id", "text").NotNull();
        ledger.AddColumn("version", "text").NotNull();
        ledger.AddColumn("changes", "text").NotNull();
        return ledger;
    }

    /// <summary>True when Wolverine's tables differ from what this build configures (a store that cannot tell: assume so).</summary>
    private async Task<bool> WolverineSchemaDiffersAsync(CancellationToken ct) =>
        wolverine.Storage is not Weasel.Core.Migrations.IDatabase database ||
        (await database.CreateMigrationAsync(ct)).Difference != SchemaPatchDifference.None;

    public const string WolverineSchema = "wolverine";

    private static async Task Execute(NpgsqlConnection connection, string sql, CancellationToken ct, long? key = null,
        params (string Name, object Value)[] parameters)
    {
        await using var cmd = new NpgsqlCommand(sql, connection);
        if (key is { } k) cmd.Parameters.AddWithValue("key", k);
        foreach (var (name, value) in parameters) cmd.Parameters.AddWithValue(name, value);
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
