using Everruns.Modules.Events;

namespace Everruns.Tests.Foundation;

public sealed class EventNotificationTests
{
    [Fact]
    public void both_payload_forms_name_the_session_and_the_types_and_an_earlier_builds_reader_sees_no_type_in_the_new_one()
    {
        var payload = EventNotification.Format("session_1", ["output.message.delta", "turn.completed"]);
        payload.ShouldBe("session_1:types=output.message.delta,turn.completed:");
        var (sessionId, types) = EventNotification.Parse(payload);
        sessionId.ShouldBe("session_1");
        types.ShouldBe(["output.message.delta", "turn.completed"]);

        // The trigger's form, per event (writers of earlier builds).
        EventNotification.Parse("session_1:7:turn.started").Types.ShouldBe(["turn.started"]);
        // No type: every waiter of the session wakes.
        EventNotification.Parse("session_1:7:").Types.ShouldBeNull();
        EventNotification.Parse(EventNotification.Format("session_1", [])).Types.ShouldBeNull();
        EventNotification.Parse("not ours").SessionId.ShouldBeNull();

        // An earlier build's reader took what follows the second colon as the type: here nothing, so it wakes everyone.
        var second = payload.IndexOf(':', payload.IndexOf(':') + 1);
        second.ShouldBe(payload.Length - 1);
    }
}
