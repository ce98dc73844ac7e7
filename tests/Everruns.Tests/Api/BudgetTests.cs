using System.Net;
using System.Text.Json.Nodes;
using Everruns.Tests.Infrastructure;

namespace Everruns.Tests.Api;

/// <summary>Budgets on sessions, agents and orgs, on the offline model (whose tokens are counted here, so spending is exact).</summary>
[Collection(AppCollection.Name)]
public sealed class BudgetTests(AppFixture app)
{
    [Fact]
    public async Task budgets_are_created_checked_changed_topped_up_and_removed_and_bad_ones_are_refused_naming_the_field()
    {
        var api = await app.OrgAdminAsync("budgets-crud");
        var session = await api.CreateSessionAsync();
        var (sessionId, orgId) = ((string)session["id"]!, (string)session["organization_id"]!);

        foreach (var (body, code) in new (object Body, string Code)[]
                 {
                     (new { subject_type = "session", subject_id = sessionId, currency = "euros", limit = 10 }, "invalid_currency"),
                     (new { subject_type = "app", subject_id = sessionId, currency = "tokens", limit = 10 }, "invalid_subject_type"),
                     (new { subject_type = "session", subject_id = "session_00000000000000000000000000000000", currency = "tokens", limit = 10 }, "subject_not_found"),
                     (new { subject_type = "organization", subject_id = "org_00000000000000000000000000000000", currency = "tokens", limit = 10 }, "subject_not_found"),
                     (new { subject_type = "session", subject_id = sessionId, currency = "tokens", limit = -1 }, "invalid_limit"),
                     (new { subject_type = "session", subject_id = sessionId, currency = "tokens", limit = 10, soft_limit = 20 }, "invalid_soft_limit"),
                 })
        {
            var refused = await api.PostAsync("/v1/budgets", body);
            refused.Status.ShouldBe(HttpStatusCode.BadRequest);
            ((string)refused.Object["code"]!).ShouldBe(code);
        }

        var periodic = await api.PostAsync("/v1/budgets", new JsonObject
        {
            ["subject_type"] = "session", ["subject_id"] = sessionId, ["currency"] = "tokens", ["limit"] = 10,
            ["period"] = new JsonObject { ["type"] = "calendar", ["unit"] = "day" },
        });
        periodic.Status.ShouldBe(HttpStatusCode.BadRequest);
        ((string)periodic.Object["detail"]!).ShouldContain("period");
        (await api.GetAsync("/v1/budgets")).Array.ShouldBeEmpty(); // nothing written by a refused request

        var created = await api.PostAsync("/v1/budgets", new
        {
            subject_type = "org", subject_id = orgId, currency = "usd", limit = 25.5, soft_limit = 20, metadata = new { team = "core" },
        });
        created.Status.ShouldBe(HttpStatusCode.Created, created.Text);
        var id = (string)created.Object["id"]!;
        id.ShouldStartWith("bdgt_");
        ((string)created.Object["subject_type"]!).ShouldBe("organization");
        ((double)created.Object["balance"]!).ShouldBe(25.5);
        ((string)created.Object["status"]!).ShouldBe("active");

        (await api.GetAsync($"/v1/budgets?subject_type=organization&subject_id={orgId}")).Array.Count.ShouldBe(1);
        (await api.GetAsync("/v1/budgets?subject_type=agent")).Array.ShouldBeEmpty();
        (await api.GetAsync($"/v1/sessions/{sessionId}/budgets")).Array.Single()!["id"]!.ToString().ShouldBe(id);
        ((string)(await api.GetAsync($"/v1/sessions/{sessionId}/budget-check")).Object["action"]!).ShouldBe("continue");

        var patched = await api.PatchAsync($"/v1/budgets/{id}", new JsonObject { ["limit"] = 5, ["soft_limit"] = null });
        patched.Status.ShouldBe(HttpStatusCode.OK, patched.Text);
        ((double)patched.Object["balance"]!).ShouldBe(5);
        patched.Object["soft_limit"].ShouldBeNull();
        var check = (await api.GetAsync($"/v1/budgets/{id}/check")).Object;
        ((string)check["action"]!).ShouldBe("continue");
        var unknown = await api.PatchAsync($"/v1/budgets/{id}", new { currency = "tokens" });
        unknown.Status.ShouldBe(HttpStatusCode.BadRequest);
        ((string)unknown.Object["detail"]!).ShouldContain("currency");

        var topped = await api.PostAsync($"/v1/budgets/{id}/top-up", new { amount = 2.5, description = "more" });
        ((double)topped.Object["balance"]!).ShouldBe(7.5);
        var ledger = (await api.GetAsync($"/v1/budgets/{id}/ledger")).Array;
        ((double)ledger.Single()!["amount"]!).ShouldBe(-2.5);
        ((string)ledger.Single()!["description"]!).ShouldBe("more");

        (await api.DeleteAsync($"/v1/budgets/{id}")).Status.ShouldBe(HttpStatusCode.NoContent);
        (await api.GetAsync($"/v1/budgets/{id}")).Status.ShouldBe(HttpStatusCode.NotFound);
        (await app.Api.GetAsync($"/v1/budgets/{id}")).Status.ShouldBe(HttpStatusCode.NotFound); // nor from another org
    }

    [Fact]
    public async Task a_hard_limit_stops_the_turn_without_spending_more_than_the_limit()
    {
        var api = await app.OrgAdminAsync("budgets-hard");
        var sessionId = (string)(await api.CreateSessionAsync())["id"]!;
        const double limit = 150;
        var id = (string)(await api.PostAsync("/v1/budgets", new { subject_type = "session", subject_id = sessionId, currency = "tokens", limit }))
            .Object["id"]!;

        List<JsonObject> events = [];
        for (var turn = 1; turn <= 10; turn++)
        {
            await api.PostMessageAsync(sessionId, $"message number {turn} of a conversation that grows with every turn, until its budget is gone");
            events = await api.WaitForTurnsAsync(sessionId, turn);
            if ((string)events.LastTurnEnd()["type"]! == "turn.failed") break;
        }

        var failed = events.LastTurnEnd();
        ((string)failed["type"]!).ShouldBe("turn.failed");
        ((string)failed["data"]!["error_code"]!).ShouldBe("budget_exhausted");
        var exhausted = events.Last(e => (string)e["type"]! == "budget.exhausted")["data"]!;
        ((string)exhausted["budget_id"]!).ShouldBe(id);
        ((string)exhausted["currency"]!).ShouldBe("tokens");

        // What the model calls used, by their own count, is what the budget was charged, and never more than its limit.
        var spent = events.Where(e => (string)e["type"]! == "llm.generation")
            .Sum(e => (long)e["data"]!["metadata"]!["usage"]!["input_tokens"]! + (long)e["data"]!["metadata"]!["usage"]!["output_tokens"]!);
        var budget = (await api.GetAsync($"/v1/budgets/{id}")).Object;
        ((double)budget["balance"]!).ShouldBe(limit - spent);
        ((double)budget["balance"]!).ShouldBeGreaterThanOrEqualTo(0);
        ((string)budget["status"]!).ShouldBe("exhausted");
        (await api.GetAsync($"/v1/budgets/{id}/ledger?limit=500")).Array.Sum(e => (double)e!["amount"]!).ShouldBe(spent);
        var check = (await api.GetAsync($"/v1/sessions/{sessionId}/budget-check")).Object;
        ((string)check["action"]!).ShouldBe("stop");
        ((string)check["error_code"]!).ShouldBe("budget_exhausted");

        // A top-up makes it active again: the next turn runs.
        await api.PostAsync($"/v1/budgets/{id}/top-up", new { amount = 1000 });
        await api.PostMessageAsync(sessionId, "after the top-up");
        var turns = events.Count(e => (string)e["type"]! == "turn.started") + 1;
        ((string)(await api.WaitForTurnsAsync(sessionId, turns)).Last()["type"]!).ShouldBe("turn.completed");
    }

    [Fact]
    public async Task a_soft_limit_pauses_the_turn_until_the_session_is_resumed()
    {
        var api = await app.OrgAdminAsync("budgets-soft");
        var agentId = (string)(await api.CreateAgentAsync())["id"]!;
        var sessionId = (string)(await api.CreateSessionAsync(new { agent_id = agentId }))["id"]!;
        var id = (string)(await api.PostAsync("/v1/budgets", new { subject_type = "agent", subject_id = agentId, currency = "credits", limit = 100, soft_limit = 0.01 }))
            .Object["id"]!;
        ((int)(await api.PostAsync($"/v1/sessions/{sessionId}/resume")).Object["resumed_budgets"]!).ShouldBe(0);

        // The first turn passes the soft limit (ten tokens' worth of credits): the budget pauses as it is charged.
        await api.PostMessageAsync(sessionId, "the first message passes the soft limit");
        var events = await api.WaitForTurnsAsync(sessionId);
        ((string)events.Last()["type"]!).ShouldBe("turn.completed");
        ((string)events.Single(e => (string)e["type"]! == "budget.paused")["data"]!["budget_id"]!).ShouldBe(id);
        ((string)(await api.GetAsync($"/v1/budgets/{id}")).Object["status"]!).ShouldBe("paused");

        // The next turn waits at its model call, not failed, not running a model.
        await api.PostMessageAsync(sessionId, "the second one waits");
        await Eventually.Until(async () => (await api.EventsAsync(sessionId)).Count(e => (string)e["type"]! == "budget.paused") == 2,
            TimeSpan.FromSeconds(20));
        events = await api.EventsAsync(sessionId);
        events.Count(e => (string)e["type"]! == "turn.started").ShouldBe(2);
        events.Count(e => (string)e["type"]! is "turn.completed" or "turn.failed").ShouldBe(1);
        var check = (await api.GetAsync($"/v1/sessions/{sessionId}/budget-check")).Object;
        ((string)check["action"]!).ShouldBe("pause");
        ((string)check["error_code"]!).ShouldBe("budget_paused");

        // Resumed through the API: the budget is active, the turn goes on and completes.
        var resumed = (await api.PostAsync($"/v1/sessions/{sessionId}/resume")).Object;
        ((int)resumed["resumed_budgets"]!).ShouldBe(1);
        events = await api.WaitForTurnsAsync(sessionId, 2);
        ((string)events.Last()["type"]!).ShouldBe("turn.completed");
        ((string)events.Single(e => (string)e["type"]! == "budget.resumed")["data"]!["budget_id"]!).ShouldBe(id);
        ((string)(await api.GetAsync($"/v1/budgets/{id}")).Object["status"]!).ShouldBe("active");
    }

    [Fact]
    public async Task a_budget_warns_once_its_balance_falls_to_a_fifth_of_its_limit()
    {
        var api = await app.OrgAdminAsync("budgets-warn");
        var agentId = (string)(await api.CreateAgentAsync())["id"]!;
        var id = (string)(await api.PostAsync("/v1/budgets", new { subject_type = "agent", subject_id = agentId, currency = "tokens", limit = 100_000 }))
            .Object["id"]!;

        // A long message in one session spends S; the limit then set so that S leaves just over a fifth of it.
        var first = (string)(await api.CreateSessionAsync(new { agent_id = agentId }))["id"]!;
        await api.PostMessageAsync(first, string.Join(' ', Enumerable.Repeat("a long message that spends many tokens", 40)));
        await api.WaitForTurnsAsync(first);
        var spent = 100_000 - (double)(await api.GetAsync($"/v1/budgets/{id}")).Object["balance"]!;
        var limit = Math.Ceiling(spent * 1.25) + 1;
        await api.PatchAsync($"/v1/budgets/{id}", new { limit });
        ((string)(await api.GetAsync($"/v1/budgets/{id}/check")).Object["action"]!).ShouldBe("continue");

        // A short turn in another session of the agent takes the balance under a fifth: warned, not stopped.
        var second = (string)(await api.CreateSessionAsync(new { agent_id = agentId }))["id"]!;
        await api.PostMessageAsync(second, "short");
        var events = await api.WaitForTurnsAsync(second);
        ((string)events.Last()["type"]!).ShouldBe("turn.completed");
        var warning = events.Single(e => (string)e["type"]! == "budget.warning")["data"]!;
        ((string)warning["budget_id"]!).ShouldBe(id);
        ((double)warning["balance"]!).ShouldBeLessThanOrEqualTo(limit * 0.2);
        ((double)warning["limit"]!).ShouldBe(limit);
        ((string)(await api.GetAsync($"/v1/budgets/{id}/check")).Object["action"]!).ShouldBe("warn");
    }

    [Fact]
    public async Task two_instances_spending_one_budget_at_once_never_overspend_it()
    {
        await using var database = await TestDatabase.CreateAsync("everruns_budget_race");
        await using var a = await TestHost.StartAsync(database.Url, settings: AppFixture.Settings);
        await using var b = await TestHost.StartAsync(database.Url, settings: AppFixture.Settings);
        var onA = new ApiClient(a.Server.CreateClient());
        var onB = new ApiClient(b.Server.CreateClient());
        var sessions = new List<(ApiClient Api, string Id)>();
        for (var i = 0; i < 8; i++)
        {
            var api = i % 2 == 0 ? onA : onB;
            sessions.Add((api, (string)(await api.CreateSessionAsync())["id"]!));
        }

        var orgId = (string)(await onA.GetAsync($"/v1/sessions/{sessions[0].Id}")).Object["organization_id"]!;
        const double limit = 400;
        var id = (string)(await onA.PostAsync("/v1/budgets", new { subject_type = "organization", subject_id = orgId, currency = "tokens", limit }))
            .Object["id"]!;

        // Every session on both instances spends at once, three turns each, far more than the budget holds.
        await Task.WhenAll(sessions.Select(async s =>
        {
            for (var turn = 1; turn <= 3; turn++)
            {
                await s.Api.PostMessageAsync(s.Id, $"spend some of the shared budget, turn {turn}, with a few more words to count");
                await s.Api.WaitForTurnsAsync(s.Id, turn, TimeSpan.FromSeconds(60));
            }
        }));

        var all = new List<JsonObject>();
        foreach (var s in sessions) all.AddRange(await s.Api.EventsAsync(s.Id));
        var spent = all.Where(e => (string)e["type"]! == "llm.generation")
            .Sum(e => (long)e["data"]!["metadata"]!["usage"]!["input_tokens"]! + (long)e["data"]!["metadata"]!["usage"]!["output_tokens"]!);
        spent.ShouldBeLessThanOrEqualTo((long)limit);
        spent.ShouldBeGreaterThan((long)(limit * 0.6)); // most of it was spent: the race was real
        all.Count(e => (string)e["type"]! == "turn.failed" && (string?)e["data"]!["error_code"] == "budget_exhausted").ShouldBeGreaterThan(0);
        all.Count(e => (string)e["type"]! == "turn.completed").ShouldBeGreaterThan(0);
        var budget = (await onB.GetAsync($"/v1/budgets/{id}")).Object;
        ((double)budget["balance"]!).ShouldBe(limit - spent);
    }
}
