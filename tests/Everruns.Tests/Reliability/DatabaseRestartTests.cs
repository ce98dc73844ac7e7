using Everruns.Bench;
using Everruns.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Everruns.Tests.Reliability;

/// <summary>
/// Routine database operations under load: three instances on a PostgreSQL of the test's own; one instance killed, the
/// server restarted in fast and in immediate mode and stopped for 20 s, while sessions post through random instances and
/// retry lost responses with an Idempotency-Key (the drill ops/chaos runs at a larger scale). Afterwards every live
/// instance's SSE streams must get live events again.
/// </summary>
public sealed class DatabaseRestartTests(ITestOutputHelper output)
{
    [Fact]
    public async Task turns_survive_an_instance_killed_and_postgresql_restarted_or_stopped_without_loss_duplicates_or_dead_letters()
    {
        var options = new ChaosOptions(HostProcess.HostDll, Path.Combine(PostgresServer.RepositoryRoot, "ops", "pg-local"),
            Nodes: 3, Sessions: 12, Messages: 6, StopFor: TimeSpan.FromSeconds(20), output.WriteLine);

        var report = await new ChaosDrill(options).RunAsync();

        output.WriteLine(report.ToMarkdown());
        report.Problems.ShouldBeEmpty(report.ToMarkdown());
        report.Accepted.ShouldBe(12 * 6);
        report.Completed.ShouldBe(report.Accepted);
        report.Failed.ShouldBe(0);
        report.Unfinished.ShouldBe(0);
        report.Duplicated.ShouldBe(0);
        report.Lost.ShouldBe(0);
        report.DeadLetters.ShouldBe(0);
        report.ServerErrors.ShouldBe(0);
        report.LiveEvents.ShouldNotBeNull(); // every instance's LISTEN connection came back
    }
}
