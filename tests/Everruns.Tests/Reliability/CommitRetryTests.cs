using Everruns.Contracts;
using Everruns.Tests.Infrastructure;
using Marten;
using Npgsql;

namespace Everruns.Tests.Reliability;

/// <summary>A model call that streamed its answer keeps it when only its commit failed for a passing database failure.</summary>
public sealed class CommitRetryTests
{
    [Fact]
    public async Task an_answer_whose_commit_failed_transiently_is_committed_again_without_asking_the_model_twice()
    {
        await using var fake = await FakeOpenAi.StartAsync();
        await using var database = await TestDatabase.CreateAsync("everruns_commitretry");
        var lostCommit = new LoseFirstAnswerCommit();
        await using var host = await TestHost.StartAsync(database.Url, settings: fake.ServerSettings(),
            services: s => s.ConfigureMarten(marten => marten.Listeners.Add(lostCommit)));
        var api = new ApiClient(host.Server.CreateClient());
        var sessionId = (string)(await api.CreateSessionAsync(new { model_id = "fake-small" }))["id"]!;

        await api.PostMessageAsync(sessionId, "answer once");
        var events = await api.WaitForTurnsAsync(sessionId);

        lostCommit.Lost.ShouldBe(1);
        ((string)events.Last()["type"]!).ShouldBe("turn.completed", string.Join(", ", events.Select(e => e["type"])));
        events.Count(e => (string)e["type"]! == "output.message.completed").ShouldBe(1);
        fake.Requests.Count.ShouldBe(1);
        (await api.CounterAsync("everruns_step_commit_retries_total")).ShouldBe(1);
        (await api.CounterAsync("everruns_dead_letters_total")).ShouldBe(0);
    }

    [Fact]
    public async Task a_transient_failure_that_outlasts_the_retry_budget_dead_letters_the_step_and_fails_its_turn()
    {
        await using var database = await TestDatabase.CreateAsync("everruns_budget");
        var lostCommit = new LoseFirstAnswerCommit(times: int.MaxValue);
        await using var host = await TestHost.StartAsync(database.Url, settings: new Dictionary<string, string> { ["DB_RETRY_BUDGET_SECS"] = "10" },
            services: s => s.ConfigureMarten(marten => marten.Listeners.Add(lostCommit)));
        var api = new ApiClient(host.Server.CreateClient());
        var sessionId = (string)(await api.CreateSessionAsync())["id"]!;

        await api.PostMessageAsync(sessionId, "never committed");
        var events = await api.WaitForTurnsAsync(sessionId, within: TimeSpan.FromSeconds(40));

        var failed = events.LastTurnEnd();
        ((string)failed["type"]!).ShouldBe("turn.failed");
        ((string)failed["data"]!["error_code"]!).ShouldBe("internal_error");
        lostCommit.Lost.ShouldBeGreaterThan(8); // retried all along the budget, not dead-lettered at the first failure
        (await api.CounterAsync("everruns_dead_letters_total")).ShouldBe(1);
    }

    /// <summary>The first commits of a model's answer fail as if the connection broke: nothing of them is written.</summary>
    private sealed class LoseFirstAnswerCommit(int times = 1) : DocumentSessionListenerBase
    {
        private int _lost;

        public int Lost => _lost;

        public override Task BeforeSaveChangesAsync(IDocumentSession session, CancellationToken token)
        {
            // (Not the commit that fails the turn: it writes the agent's message that tells the user.)
            var events = session.PendingChanges.Streams().SelectMany(s => s.Events).ToList();
            var answers = events.Any(e => e.Data is OutputMessageCompleted) && !events.Any(e => e.Data is TurnFailed);
            if (answers && Interlocked.Increment(ref _lost) <= times)
                throw new NpgsqlException("Exception while reading from stream (injected)", new IOException("connection reset"));
            if (answers) Interlocked.Decrement(ref _lost);
            return Task.CompletedTask;
        }
    }
}
