using System.Text.Json.Nodes;

namespace Everruns.Tests.Infrastructure;

public static class TurnAssertions
{
    /// <summary>
    /// The event that ended the session's last turn (completed, failed or cancelled): a failed or cancelled turn's end is
    /// followed by the messages that tell the user.
    /// </summary>
    public static JsonObject LastTurnEnd(this List<JsonObject> events) =>
        events.Last(e => (string?)e["type"] is "turn.completed" or "turn.failed" or "turn.cancelled");

    /// <summary>
    /// One turn of the offline model, completed once, whichever instances ran its steps: nothing repeated by a second
    /// attempt of a step (one message start, deltas that spell the answer exactly once) and a gap-free sequence.
    /// </summary>
    public static void ShouldBeOneWholeTurn(this List<JsonObject> events, string message, string output)
    {
        ((string)events.Last()["type"]!).ShouldBe("turn.completed", output);
        events.Count(e => (string)e["type"]! == "turn.started").ShouldBe(1);
        events.Count(e => (string)e["type"]! == "output.message.completed").ShouldBe(1);
        events.Select(e => e["sequence"]!.GetValue<long>()).ShouldBe(Enumerable.Range(1, events.Count).Select(i => (long)i));
        events.Count(e => (string)e["type"]! == "output.message.started").ShouldBe(1);
        var text = (string)events.Single(e => (string)e["type"]! == "output.message.completed")["data"]!["message"]!["content"]![0]!["text"]!;
        string.Concat(events.Where(e => (string)e["type"]! == "output.message.delta").Select(e => (string)e["data"]!["delta"]!)).ShouldBe(text);
        text.ShouldBe("Echo: " + message);
    }
}
