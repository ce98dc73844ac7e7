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
}
