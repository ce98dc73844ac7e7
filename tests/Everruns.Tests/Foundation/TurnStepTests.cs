using System.Text.Json;
using System.Text.Json.Nodes;
using Everruns.Contracts;
using Everruns.Modules.Execution;

namespace Everruns.Tests.Foundation;

/// <summary>What a model-call step carries and how it tells, from its one read, whether it is still due.</summary>
public sealed class TurnStepTests
{
    private static RecordedSessionEvent Event(long sequence, string type, string? turnId)
    {
        var turn = turnId ?? "";
        ISessionEventData data = type switch
        {
            EventTypes.InputMessage => new InputMessageReceived(new JsonObject()),
            EventTypes.TurnStarted => new TurnStarted(turn, "message_1", null),
            EventTypes.OutputMessageStarted => new OutputMessageStarted(turn, 1, null, "message_1"),
            EventTypes.OutputMessageDelta => new OutputMessageDelta(turn, 1, "", "", "message_1"),
            EventTypes.OutputMessageCompleted => new OutputMessageCompleted(new JsonObject(), new OutputMetadata(null)),
            EventTypes.TurnCompleted => new TurnCompleted(turn, 1, 1, "message_2", null, 0, null),
            EventTypes.TurnCancelled => new TurnCancelled(turn, null),
            EventTypes.TurnFailed => new TurnFailed(turn, "failed", null),
            _ => throw new ArgumentOutOfRangeException(nameof(type)),
        };
        return new(sequence, Ids.New(Ids.Event), DateTimeOffset.UtcNow, new EventContext(turnId, "message_1"), data);
    }

    [Fact]
    public void a_step_is_outdated_once_its_iteration_has_its_answer_or_its_turn_ended()
    {
        List<RecordedSessionEvent> read =
        [
            Event(1, EventTypes.InputMessage, null),
            Event(2, EventTypes.TurnStarted, "turn_a"),
            Event(3, EventTypes.OutputMessageCompleted, "turn_a"),
            Event(4, EventTypes.TurnCompleted, "turn_a"),
            Event(5, EventTypes.InputMessage, null),
            Event(6, EventTypes.TurnStarted, "turn_b"),
        ];
        TurnStepRead.Outdated(read, "turn_a", 1).ShouldBeTrue(); // its turn completed
        TurnStepRead.Outdated(read, "turn_b", 1).ShouldBeFalse(); // due: nothing answered yet

        read.Add(Event(7, EventTypes.OutputMessageStarted, "turn_b"));
        read.Add(Event(8, EventTypes.OutputMessageDelta, "turn_b"));
        TurnStepRead.Outdated(read, "turn_b", 1).ShouldBeFalse(); // an interrupted attempt streamed: still due, resumed

        read.Add(Event(9, EventTypes.OutputMessageCompleted, "turn_b")); // iteration 1 answered with tool calls
        TurnStepRead.Outdated(read, "turn_b", 1).ShouldBeTrue();
        TurnStepRead.Outdated(read, "turn_b", 2).ShouldBeFalse();

        read.Add(Event(10, EventTypes.TurnCancelled, "turn_b"));
        TurnStepRead.Outdated(read, "turn_b", 2).ShouldBeTrue();
        TurnStepRead.Outdated([.. read.Take(9), Event(10, EventTypes.TurnFailed, "turn_b")], "turn_b", 2).ShouldBeTrue();
    }

    [Fact]
    public void what_a_sender_hands_a_step_in_memory_is_never_stored_with_it()
    {
        var runtime = new SessionRuntime("session_1", "org_1", null, "a secret system prompt", "everruns-offline", 10, []);
        var step = new RunTurnStep("session_1", "turn_1", 2, "message_1").Carrying(runtime, null, new SessionTurns { Id = "session_1" });
        StepMemory.Of(step)!.Runtime.ShouldBe(runtime);
        var json = JsonSerializer.Serialize(step);
        json.ShouldNotContain("secret");

        // Read back (a redelivery, a step recovered from a dead node): equal as data, but nothing handed over: the settings
        // are read again.
        var back = JsonSerializer.Deserialize<RunTurnStep>(json)!;
        back.ShouldBe(new RunTurnStep("session_1", "turn_1", 2, "message_1"));
        StepMemory.Of(back).ShouldBeNull();

        // A hand-off: no input message, so the step reads the turn state first.
        JsonSerializer.Deserialize<RunTurnStep>("""{"SessionId":"session_1","TurnId":"turn_1","Iteration":1}""")
            .ShouldBe(new RunTurnStep("session_1", "turn_1", 1));
    }
}
