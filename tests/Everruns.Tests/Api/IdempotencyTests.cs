using System.Net;
using Everruns.Tests.Infrastructure;
using Everruns.Contracts;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Everruns.Tests.Api;

/// <summary>
/// A client retries a creating request safely with an Idempotency-Key: the retry, on any instance, gets the first
/// response and writes nothing. Two instances on one database.
/// </summary>
public sealed class IdempotencyTests : IAsyncLifetime
{
    private TestDatabase _database = null!;
    private Alba.IAlbaHost _first = null!, _second = null!;
    private ApiClient _a = null!, _b = null!;

    public async Task InitializeAsync()
    {
        _database = await TestDatabase.CreateAsync("everruns_idem");
        _first = await TestHost.StartAsync(_database.Url);
        _second = await TestHost.StartAsync(_database.Url);
        _a = new ApiClient(_first.Server.CreateClient());
        _b = new ApiClient(_second.Server.CreateClient());
    }

    public async Task DisposeAsync()
    {
        await _first.DisposeAsync();
        await _second.DisposeAsync();
        await _database.DisposeAsync();
    }

    [Fact]
    public async Task a_message_posted_again_with_its_key_on_another_instance_is_stored_once_and_answered_as_the_first_time()
    {
        var sessionId = (string)(await _a.CreateSessionAsync())["id"]!;
        var body = new { message = new { content = "only once" } };

        var first = await _a.PostAsync($"/v1/sessions/{sessionId}/messages", body, "msg-1");
        var retry = await _b.PostAsync($"/v1/sessions/{sessionId}/messages", body, "msg-1");

        first.Status.ShouldBe(HttpStatusCode.Created, first.Text);
        retry.Status.ShouldBe(HttpStatusCode.Created, retry.Text);
        retry.Object["id"]!.ToString().ShouldBe(first.Object["id"]!.ToString());
        retry.Headers.Location.ShouldBe(first.Headers.Location);
        retry.Headers.GetValues("Idempotent-Replayed").ShouldBe(["true"]);
        var events = await _a.WaitForTurnsAsync(sessionId);
        events.Count(e => (string)e["type"]! == "input.message").ShouldBe(1);
        events.Count(e => (string)e["type"]! == "turn.started").ShouldBe(1);
    }

    [Fact]
    public async Task sessions_and_agents_created_again_with_their_key_are_created_once()
    {
        var session = await _a.PostAsync("/v1/sessions", new { title = "keyed" }, "session-1");
        var sessionAgain = await _b.PostAsync("/v1/sessions", new { title = "keyed" }, "session-1");
        sessionAgain.Object["id"]!.ToString().ShouldBe(session.Object["id"]!.ToString());
        var name = Names.Unique("keyed");
        var agent = await _a.PostAsync("/v1/agents", new { name, system_prompt = "x" }, "agent-1");
        var agentAgain = await _b.PostAsync("/v1/agents", new { name, system_prompt = "x" }, "agent-1");
        agent.Status.ShouldBe(HttpStatusCode.Created, agent.Text);
        agentAgain.Status.ShouldBe(HttpStatusCode.Created, agentAgain.Text);
        agentAgain.Object["id"]!.ToString().ShouldBe(agent.Object["id"]!.ToString());

        (await PostgresServer.ScalarAsync<long>(_database.Url, "select count(*) from everruns.mt_doc_session where data->>'title' = 'keyed'"))
            .ShouldBe(1);
        // A new key is a new request.
        (await _a.PostAsync("/v1/sessions", new { title = "keyed" }, "session-2")).Object["id"]!.ToString()
            .ShouldNotBe(session.Object["id"]!.ToString());
    }

    [Fact]
    public async Task the_same_key_with_another_body_is_refused_with_422_and_writes_nothing()
    {
        var sessionId = (string)(await _a.CreateSessionAsync())["id"]!;
        (await _a.PostAsync($"/v1/sessions/{sessionId}/messages", new { message = new { content = "one" } }, "reused"))
            .Status.ShouldBe(HttpStatusCode.Created);

        (await _b.PostAsync($"/v1/sessions/{sessionId}/messages", new { message = new { content = "two" } }, "reused"))
            .ShouldBeProblem(HttpStatusCode.UnprocessableEntity, "idempotency_key_mismatch");

        var events = await _a.WaitForTurnsAsync(sessionId);
        events.Count(e => (string)e["type"]! == "input.message").ShouldBe(1);
    }

    [Fact]
    public async Task a_retry_while_the_first_request_still_runs_gets_409_and_succeeds_once_it_has_finished()
    {
        var sessionId = (string)(await _a.CreateSessionAsync())["id"]!;
        var body = new { message = new { content = "in flight" } };
        // The session's lock (SessionStream's advisory lock) held: the first POST waits inside its transaction, holding its key.
        await using var blocker = new NpgsqlConnection(PostgresServer.ConnectionStringFor(_database.Url));
        await blocker.OpenAsync();
        await using var hold = await blocker.BeginTransactionAsync();
        await using (var lockSession = new NpgsqlCommand(
                         $"select pg_advisory_xact_lock({0x53455353}, hashtext(@id))", blocker, hold))
        {
            lockSession.Parameters.AddWithValue("id", sessionId);
            await lockSession.ExecuteScalarAsync();
        }

        var first = _a.PostAsync($"/v1/sessions/{sessionId}/messages", body, "slow-1");
        ApiResponse? busy = null;
        await Eventually.Until(async () =>
        {
            busy = await _b.PostAsync($"/v1/sessions/{sessionId}/messages", body, "slow-1");
            return busy.Status == HttpStatusCode.Conflict;
        });
        busy!.ShouldBeProblem(HttpStatusCode.Conflict, "idempotency_key_in_use");
        busy.Headers.RetryAfter.ShouldNotBeNull();
        first.IsCompleted.ShouldBeFalse();

        await hold.RollbackAsync();
        (await first).Status.ShouldBe(HttpStatusCode.Created);
        var retry = await _b.PostAsync($"/v1/sessions/{sessionId}/messages", body, "slow-1");
        retry.Object["id"]!.ToString().ShouldBe((await first).Object["id"]!.ToString());
        (await _a.WaitForTurnsAsync(sessionId)).Count(e => (string)e["type"]! == "input.message").ShouldBe(1);
    }

    [Fact]
    public async Task a_key_left_held_by_a_request_that_died_is_taken_over_once_its_hold_expires()
    {
        // What an instance killed in the middle of a request leaves: its claim on the key, and no response.
        var store = _first.Services.GetRequiredService<IDocumentStore>();
        await using (var documents = store.LightweightSession(Tenancy.DefaultOrgId)) // keys are the org's documents
        {
            foreach (var (key, heldFor) in new[] { ("died-long-ago", -1), ("died-just-now", 60) })
                documents.Store(new IdempotentResponse
                {
                    Id = $"{Tenancy.DefaultOrgId}/{key}", RequestHash = "of the lost request", Pending = true,
                    HeldUntil = DateTimeOffset.UtcNow.AddSeconds(heldFor), CreatedAt = DateTimeOffset.UtcNow,
                });
            await documents.SaveChangesAsync();
        }

        (await _a.PostAsync("/v1/sessions", new { }, "died-just-now")).ShouldBeProblem(HttpStatusCode.Conflict, "idempotency_key_in_use");
        var retried = await _b.PostAsync("/v1/sessions", new { }, "died-long-ago");
        retried.Status.ShouldBe(HttpStatusCode.Created, retried.Text);
        (await _a.PostAsync("/v1/sessions", new { }, "died-long-ago")).Object["id"]!.ToString().ShouldBe(retried.Object["id"]!.ToString());
    }

    [Fact]
    public async Task a_key_is_refused_where_it_is_not_honoured_or_malformed()
    {
        var sessionId = (string)(await _a.CreateSessionAsync())["id"]!;
        (await _a.PostAsync($"/v1/sessions/{sessionId}/cancel", new { }, "k"))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "idempotency_key_not_supported");
        (await _a.PostAsync("/v1/sessions", new { }, "has space"))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_idempotency_key");
        (await _a.PostAsync("/v1/sessions", new { }, new string('k', 256)))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_idempotency_key");
    }
}
