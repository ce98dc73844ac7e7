using Everruns.Tests.Infrastructure;

namespace Everruns.Tests.Foundation;

/// <summary>Schema migrations run under an advisory lock: once, whoever starts first.</summary>
public sealed class MigrationTests
{
    [Fact]
    public async Task three_hosts_starting_together_on_an_empty_database_create_the_schema_once()
    {
        await using var database = await TestDatabase.CreateAsync("everruns_mig");
        var url = database.Url;
        var hosts = Enumerable.Range(0, 3).Select(_ => HostProcess.Start(url)).ToList();
        try
        {
            await Task.WhenAll(hosts.Select(h => h.WaitUntilReadyAsync(TimeSpan.FromSeconds(90))));

            var migrations = await PostgresServer.ScalarAsync<long>(url, "select count(*) from everruns_ops.schema_migrations");
            migrations.ShouldBe(1L);
            (await PostgresServer.ScalarAsync<bool>(url,
                "select to_regclass('wolverine.wolverine_incoming_envelopes') is not null and to_regclass('wolverine.wolverine_nodes') is not null"))
                .ShouldBeTrue();

            foreach (var host in hosts)
            {
                host.HasExited.ShouldBeFalse();
                host.Output.ShouldNotContain("fail:");
            }

            hosts.Count(h => h.Output.Contains("Schema migrated")).ShouldBe(1);
            hosts.Count(h => h.Output.Contains("Schema is current")).ShouldBe(2);
        }
        finally
        {
            foreach (var host in hosts) await host.DisposeAsync();
        }
    }

    [Fact]
    public async Task the_migrate_verb_applies_the_schema_and_exits_and_is_idempotent()
    {
        await using var database = await TestDatabase.CreateAsync("everruns_verb");
        var url = database.Url;
        var first = await HostProcess.RunVerbAsync(url, "migrate");
        first.ExitCode.ShouldBe(0, first.Output);
        first.Output.ShouldContain("Schema migrated.");

        var second = await HostProcess.RunVerbAsync(url, "migrate");
        second.ExitCode.ShouldBe(0, second.Output);
        second.Output.ShouldContain("Schema is current.");

        (await PostgresServer.ScalarAsync<long>(url, "select count(*) from everruns_ops.schema_migrations")).ShouldBe(1L);
    }

    /// <summary>A new build's Wolverine settings that change its tables are applied by <c>migrate</c>, not left to the first start.</summary>
    [Fact]
    public async Task the_migrate_verb_applies_a_change_to_wolverines_tables()
    {
        await using var database = await TestDatabase.CreateAsync("everruns_wolvdelta");
        var url = database.Url;
        (await HostProcess.RunVerbAsync(url, "migrate")).ExitCode.ShouldBe(0);
        const string stampColumn = "select count(*) from information_schema.columns where table_schema = 'wolverine' " +
                                   "and table_name = 'wolverine_incoming_envelopes' and column_name = 'timestamp'";
        (await PostgresServer.ScalarAsync<long>(url, stampColumn)).ShouldBe(1L);

        // The schema of a build without the inbox's stale clock (INBOX_STALE_SECS).
        await PostgresServer.ExecuteAsync(url, "alter table wolverine.wolverine_incoming_envelopes drop column \"timestamp\"");
        var upgrade = await HostProcess.RunVerbAsync(url, "migrate");
        upgrade.ExitCode.ShouldBe(0, upgrade.Output);
        upgrade.Output.ShouldContain("Schema migrated.");
        (await PostgresServer.ScalarAsync<long>(url, stampColumn)).ShouldBe(1L);
        (await PostgresServer.ScalarAsync<string>(url, "select changes from everruns_ops.schema_migrations order by id desc limit 1"))
            .ShouldBe("wolverine");

        (await HostProcess.RunVerbAsync(url, "migrate")).Output.ShouldContain("Schema is current.");
    }

    [Fact]
    public async Task no_migrations_leaves_an_empty_database_untouched_and_the_host_unready()
    {
        await using var database = await TestDatabase.CreateAsync("everruns_nomig");
        var url = database.Url;
        await using var host = HostProcess.Start(url, null, "--no-migrations");
        // Without the schema Wolverine cannot start: the process must fail loudly, not migrate.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (!host.HasExited && !timeout.IsCancellationRequested) await Task.Delay(200);
        host.HasExited.ShouldBeTrue(host.Output);
        host.ExitCode.ShouldNotBe(0);
        (await PostgresServer.ScalarAsync<bool>(url, "select to_regclass('everruns_ops.schema_migrations') is null and to_regnamespace('wolverine') is null"))
            .ShouldBeTrue();
    }
}
