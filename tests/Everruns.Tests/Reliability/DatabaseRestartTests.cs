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

/// <summary>The event store's sequence found behind its events (seen after PostgreSQL restarts under load) repairs itself.</summary>
public sealed class EventSequenceRepairTests
{
    [Fact]
    public async Task an_append_refused_for_a_taken_sequence_number_moves_the_sequence_on_and_the_retry_goes_through()
    {
        await using var database = await TestDatabase.CreateAsync("everruns_sequence");
        await using var host = await TestHost.StartAsync(database.Url);
        var api = new ApiClient(host.Server.CreateClient());
        var sessionId = (string)(await api.CreateSessionAsync())["id"]!;
        await api.PostMessageAsync(sessionId, "before");
        await api.WaitForTurnsAsync(sessionId);

        // The sequence set back behind the stored events, as it was once found after a restart.
        await PostgresServer.ScalarAsync<long>(database.Url, "select setval('everruns.mt_events_sequence', 1)");
        var refused = await api.PostAsync($"/v1/sessions/{sessionId}/messages", new { message = new { role = "user", content = "after" } });
        refused.ShouldBeProblem(System.Net.HttpStatusCode.Conflict, "conflict"); // nothing written: retry
        (await api.PostAsync($"/v1/sessions/{sessionId}/messages", new { message = new { role = "user", content = "after" } }))
            .Status.ShouldBe(System.Net.HttpStatusCode.Created);
        var events = await api.WaitForTurnsAsync(sessionId, 2);
        ((string)events.Last()["type"]!).ShouldBe("turn.completed");
        events.Count(e => (string)e["type"]! == "input.message").ShouldBe(2);
    }
}
