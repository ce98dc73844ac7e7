using Everruns.Tests.Infrastructure;

namespace Everruns.Tests.Api;

/// <summary>What a turn cost in tokens, on the offline model (which reports none: counted here, and marked estimated).</summary>
[Collection(AppCollection.Name)]
public sealed class UsageTests(AppFixture app)
{
    private readonly ApiClient _api = app.Api;

    [Fact]
    public async Task each_model_call_records_llm_generation_and_the_turn_sums_its_usage()
    {
        var sessionId = (string)(await _api.CreateSessionAsync(new { capabilities = new[] { new { @ref = "current_time" } } }))["id"]!;
        await _api.PostMessageAsync(sessionId, "what time is it?");
        var events = await _api.WaitForTurnsAsync(sessionId);

        var generations = events.Where(e => (string)e["type"]! == "llm.generation").Select(e => e["data"]!).ToList();
        generations.Count.ShouldBe(2); // the tool call, then the answer
        foreach (var generation in generations)
        {
            var metadata = generation["metadata"]!;
            ((bool)metadata["success"]!).ShouldBeTrue();
            ((string)metadata["model"]!).ShouldBe("everruns-offline");
            ((long)metadata["usage"]!["input_tokens"]!).ShouldBeGreaterThan(0);
            ((long)metadata["usage"]!["output_tokens"]!).ShouldBeGreaterThan(0);
            ((bool)metadata["usage"]!["estimated"]!).ShouldBeTrue();
        }

        ((string)generations[0]["output"]!["tool_calls"]![0]!["name"]!).ShouldBe("current_time");
        ((string)generations[1]["metadata"]!["finish_reasons"]![0]!).ShouldBe("stop");
        var answer = events.Last(e => (string)e["type"]! == "output.message.completed")["data"]!;
        ((long)answer["usage"]!["output_tokens"]!).ShouldBe((long)generations[1]["metadata"]!["usage"]!["output_tokens"]!);

        var completed = events.Last()["data"]!;
        ((long)completed["usage"]!["input_tokens"]!).ShouldBe(generations.Sum(g => (long)g["metadata"]!["usage"]!["input_tokens"]!));
        ((long)completed["usage"]!["output_tokens"]!).ShouldBe(generations.Sum(g => (long)g["metadata"]!["usage"]!["output_tokens"]!));
        ((int)completed["tool_call_count"]!).ShouldBe(1);
        ((int)completed["llm_call_count"]!).ShouldBe(2);
    }

    [Fact]
    public async Task sessions_and_agents_report_what_their_turns_added_up_to()
    {
        var agent = await _api.CreateAgentAsync(name: $"stats-{Guid.NewGuid():N}");
        var (agentId, agentName) = ((string)agent["id"]!, (string)agent["name"]!);
        var busy = (string)(await _api.CreateSessionAsync(new { agent_id = agentId }))["id"]!;
        await _api.CreateSessionAsync(new { agent_id = agentId }); // never used: "started"
        await _api.PostMessageAsync(busy, "one");
        await _api.WaitForTurnsAsync(busy);
        await _api.PostMessageAsync(busy, "two");
        var events = await _api.WaitForTurnsAsync(busy, 2);
        var turns = events.Where(e => (string)e["type"]! == "turn.completed").Select(e => e["data"]!["usage"]!).ToList();

        // The session's usage: its turns' summed.
        var session = (await _api.GetAsync($"/v1/sessions/{busy}")).Object;
        ((long)session["usage"]!["input_tokens"]!).ShouldBe(turns.Sum(u => (long)u["input_tokens"]!));
        ((long)session["usage"]!["output_tokens"]!).ShouldBe(turns.Sum(u => (long)u["output_tokens"]!));

        // The agent's stats, by id or by name.
        foreach (var key in new[] { agentId, agentName })
        {
            var stats = await _api.GetAsync($"/v1/agents/{key}/stats");
            stats.Status.ShouldBe(System.Net.HttpStatusCode.OK, stats.Text);
            ((long)stats.Object["session_count"]!).ShouldBe(2);
            ((long)stats.Object["started_session_count"]!).ShouldBe(1);
            ((long)stats.Object["idle_session_count"]!).ShouldBe(1);
            ((long)stats.Object["execution_count"]!).ShouldBe(2);
            ((long)stats.Object["total_output_tokens"]!).ShouldBe(turns.Sum(u => (long)u["output_tokens"]!));
            ((double)stats.Object["total_estimated_cost_usd"]!).ShouldBe(0); // the offline model has no price
            stats.Object["last_execution_at"].ShouldNotBeNull();
        }

        (await _api.GetAsync("/v1/agents/no-such-agent/stats")).Status.ShouldBe(System.Net.HttpStatusCode.NotFound);
        var all = (await _api.GetAsync("/v1/sessions/stats")).Object;
        ((long)all["total"]!).ShouldBeGreaterThanOrEqualTo(2);
        ((long)all["total"]!).ShouldBe((long)all["active"]! + (long)all["idle"]! + (long)all["started"]! + (long)all["waiting_for_tool_results"]!);
    }
}
