using System.Net;
using Everruns.Modules.Execution;
using Everruns.Tests.Infrastructure;
using Wolverine;

namespace Everruns.Tests.Reliability;

/// <summary>
/// What still reaches the dead-letter queue is a bug: its turn fails at once, readably, and the entry can be listed,
/// retried and discarded by deployment admins.
/// </summary>
public sealed class DeadLetterTests
{
    [Fact]
    public async Task a_dead_lettered_turn_step_fails_its_turn_at_once_and_can_be_listed_retried_and_discarded()
    {
        await using var database = await TestDatabase.CreateAsync("everruns_dlq");
        // Wolverine's durability agent (which moves a retried entry back to the inbox) is assigned to a node by the leader
        // at its health checks: fast ones here.
        await using var host = await TestHost.StartAsync(database.Url, settings: new Dictionary<string, string>
        {
            ["NODE_HEALTH_CHECK_SECS"] = "1", ["NODE_STALE_SECS"] = "3",
        }, services: s => s.ConfigureWolverine(w =>
            w.Policies.AddMiddleware(typeof(InjectedBug), chain => chain.MessageType == typeof(RunTurnStep))));
        var api = new ApiClient(host.Server.CreateClient());
        var sessionId = (string)(await api.CreateSessionAsync())["id"]!;

        InjectedBug.Arm();
        await api.PostMessageAsync(sessionId, "hit the bug");
        var events = await api.WaitForTurnsAsync(sessionId, within: TimeSpan.FromSeconds(20));

        var failed = events.LastTurnEnd();
        ((string)failed["type"]!).ShouldBe("turn.failed");
        ((string)failed["data"]!["error_code"]!).ShouldBe("internal_error");
        var deadLetterId = (string)failed["data"]!["dead_letter_id"]!;
        ((string)failed["data"]!["error"]!).ShouldNotContain("InvalidOperationException");
        (await api.CounterAsync("everruns_dead_letters_total")).ShouldBe(1);
        (await api.GetAsync("/v1/admin/system-health")).Text.ShouldContain("\"dead_letters\":1");

        var list = await api.GetAsync("/v1/durable/dlq");
        list.Status.ShouldBe(HttpStatusCode.OK, list.Text);
        list.Object["total"]!.GetValue<int>().ShouldBe(1);
        var entry = list.Object["data"]![0]!;
        ((string)entry["id"]!).ShouldBe(deadLetterId);
        ((string)entry["activity_type"]!).ShouldBe("RunTurnStep");
        ((string)entry["last_error"]!).ShouldContain("injected bug", Case.Sensitive, entry.ToJsonString());
        entry["input"]!.ToJsonString().ShouldContain(sessionId);
        ((string)entry["workflow_id"]!).Replace("-", "").ShouldBe(((string)failed["data"]!["turn_id"]!)["turn_".Length..]);
        (await api.GetAsync("/v1/durable/dlq?activity_type=RunTools")).Object["total"]!.GetValue<int>().ShouldBe(0);
        (await api.GetAsync("/v1/durable/dlq?workflow_id=nope")).ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_workflow_id");

        // Retried: the step runs again (the bug is gone), finds its turn ended and adds nothing; the session goes on.
        var retry = await api.PostAsync($"/v1/durable/dlq/{deadLetterId}/retry");
        retry.Status.ShouldBe(HttpStatusCode.OK, retry.Text);
        retry.Text.ShouldBe(deadLetterId);
        await Eventually.Until(async () => (await api.GetAsync("/v1/durable/dlq")).Object["total"]!.GetValue<int>() == 0,
            TimeSpan.FromSeconds(30));
        (await api.PostAsync($"/v1/durable/dlq/{deadLetterId}/retry")).ShouldBeProblem(HttpStatusCode.NotFound, "dlq_entry_not_found");
        await api.PostMessageAsync(sessionId, "after the fix");
        events = await api.WaitForTurnsAsync(sessionId, turns: 2);
        events.Count(e => (string)e["type"]! == "turn.completed").ShouldBe(1);
        events.Count(e => (string)e["type"]! == "turn.failed").ShouldBe(1);

        // Discarded: gone for good.
        InjectedBug.Arm();
        await api.PostMessageAsync(sessionId, "hit it again");
        events = await api.WaitForTurnsAsync(sessionId, turns: 3);
        var second = (string)events.LastTurnEnd()["data"]!["dead_letter_id"]!;
        (await api.DeleteAsync($"/v1/durable/dlq/{second}")).Status.ShouldBe(HttpStatusCode.NoContent);
        (await api.GetAsync("/v1/durable/dlq")).Object["total"]!.GetValue<int>().ShouldBe(0);
        (await api.DeleteAsync($"/v1/durable/dlq/{second}")).ShouldBeProblem(HttpStatusCode.NotFound, "dlq_entry_not_found");
    }
}

/// <summary>A handler bug on demand: the next turn step throws once.</summary>
public static class InjectedBug
{
    private static int _armed;

    public static void Arm() => Interlocked.Exchange(ref _armed, 1);

    public static void Before(RunTurnStep step)
    {
        if (Interlocked.Exchange(ref _armed, 0) == 1) throw new InvalidOperationException("injected bug");
    }
}
