using Everruns.Host.Health;

namespace Everruns.Host.Schema;

/// <summary>
/// Runs the schema migration as the first hosted service, before Wolverine and Marten start using their
/// tables. Skipped with <c>--no-migrations</c> (the schema is then the operator's responsibility).
/// </summary>
public sealed class SchemaMigrationService(SchemaMigrator migrator, Readiness readiness, StartupFlags flags) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!flags.SkipMigrations)
            await migrator.MigrateAsync(cancellationToken);
        readiness.MigrationsCompleted();
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>What the command line asked of this process.</summary>
public sealed record StartupFlags(bool SkipMigrations);
