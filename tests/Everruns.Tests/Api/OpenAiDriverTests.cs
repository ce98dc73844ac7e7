using System.Net;
using Everruns.Modules.Execution;
using Everruns.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Everruns.Tests.Api;

/// <summary>The OpenAI-compatible driver, against a fake chat-completions server started by the test.</summary>
public sealed class OpenAiDriverTests
{
    [Fact]
    public async Task a_session_on_an_openai_compatible_model_streams_its_answer_runs_tools_and_reports_errors()
    {
        await using var fake = await FakeOpenAi.StartAsync();
        await using var database = await TestDatabase.CreateAsync("everruns_openai");
        var url = database.Url;
        await using var host = await TestHost.StartAsync(url, settings: fake.ServerSettings("fake-small,fake-large"));
        var api = new ApiClient(host.Server.CreateClient());

        // Configured models are listed, the first being the default.
        var models = (await api.GetAsync("/v1/models")).Object["data"]!.AsArray();
        models.Select(m => (string)m!["model_id"]!).ShouldBe(["fake-small", "fake-large", "everruns-offline"]);
        models[0]!["is_default"]!.GetValue<bool>().ShouldBeTrue();

        var agent = await api.CreateAgentAsync(systemPrompt: "You are terse.", capabilities: new[] { new { @ref = "current_time" } });
        var sessionId = (string)(await api.CreateSessionAsync(new { agent_id = (string)agent["id"]!, model_id = "fake-large" }))["id"]!;

        await api.PostMessageAsync(sessionId, "hello fake");
        var events = await api.WaitForTurnsAsync(sessionId);
        ((string)events.Last()["type"]!).ShouldBe("turn.completed", string.Join(", ", events.Select(e => e["type"])));
        var answer = events.Single(e => (string)e["type"]! == "output.message.completed")["data"]!;
        ((string)answer["message"]!["content"]![0]!["text"]!).ShouldBe("Fake says: hello fake");
        ((string)answer["metadata"]!["model"]!).ShouldBe("fake-large");
        events.Count(e => (string)e["type"]! == "output.message.delta").ShouldBeGreaterThan(0);

        var (authorization, request) = fake.Requests.First();
        authorization.ShouldBe("Bearer sk-test-key");
        ((string)request["model"]!).ShouldBe("fake-large");
        ((bool)request["stream"]!).ShouldBeTrue();
        var messages = request["messages"]!.AsArray();
        ((string)messages[0]!["role"]!).ShouldBe("system");
        messages.ToJsonString().ShouldContain("You are terse.");
        request["tools"]!.AsArray().Select(t => (string)t!["function"]!["name"]!).ShouldBe(["current_time"]);

        // A tool call round trip through the provider: the call, the tool's result sent back, the answer.
        await api.PostMessageAsync(sessionId, "what time is it");
        events = await api.WaitForTurnsAsync(sessionId, 2);
        ((string)events.Last()["type"]!).ShouldBe("turn.completed");
        var toolCompleted = events.Single(e => (string)e["type"]! == "tool.completed")["data"]!;
        ((string)toolCompleted["tool_call_id"]!).ShouldBe("call_fake1");
        ((bool)toolCompleted["success"]!).ShouldBeTrue();
        var toolRequest = fake.Requests.Last().Body["messages"]!.AsArray();
        ((string)toolRequest.Last()!["role"]!).ShouldBe("tool");
        ((string)toolRequest.Last()!["tool_call_id"]!).ShouldBe("call_fake1");
        var final = (string)events.Last(e => (string)e["type"]! == "output.message.completed")["data"]!["message"]!["content"]![0]!["text"]!;
        final.ShouldStartWith("The tool said {\"utc\":");

        // Usage: each call's llm.generation and output.message.completed carry the provider's tokens (cached reads kept
        // apart), and turn.completed their sum, with its tool call count and first-token latency.
        var reported = fake.Reported.TakeLast(2).ToList();
        var turnEvents = events.SkipWhile(e => (string)e["type"]! != "turn.started" || e != events.Last(x => (string)x["type"]! == "turn.started")).ToList();
        var generations = turnEvents.Where(e => (string)e["type"]! == "llm.generation").Select(e => e["data"]!["metadata"]!).ToList();
        generations.Count.ShouldBe(2);
        generations.ShouldAllBe(g => (bool)g["success"]! && (string)g["provider"]! == "openai" && g["time_to_first_token_ms"] != null);
        generations.Select(g => (long)g["usage"]!["input_tokens"]!).ShouldBe(reported.Select(r => r.Prompt - r.Cached));
        generations.Select(g => (long)g["usage"]!["cache_read_tokens"]!).ShouldBe(reported.Select(r => r.Cached));
        generations.ShouldAllBe(g => g["usage"]!["estimated"] == null);
        var completedTurn = turnEvents.Last()["data"]!;
        ((long)completedTurn["usage"]!["output_tokens"]!).ShouldBe(reported.Sum(r => r.Completion));
        ((long)completedTurn["usage"]!["input_tokens"]!).ShouldBe(reported.Sum(r => r.Prompt - r.Cached));
        ((int)completedTurn["tool_call_count"]!).ShouldBe(1);
        ((string)completedTurn["status"]!).ShouldBe("completed");
        completedTurn["time_to_first_token_ms"].ShouldNotBeNull();
        ((long)turnEvents.Last(e => (string)e["type"]! == "output.message.completed")["data"]!["usage"]!["output_tokens"]!).ShouldBe(reported[1].Completion);

        // Model-call steps of that turn delivered again after it ended (redeliveries, in this build's shape and in an
        // earlier build's) call no model and write nothing.
        var started = events.Last(e => (string)e["type"]! == "turn.started")["data"]!;
        var (turnId, inputId) = ((string)started["turn_id"]!, (string)started["input_message_id"]!);
        var requests = fake.Requests.Count;
        await using (var scope = host.Services.CreateAsyncScope())
        {
            var bus = scope.ServiceProvider.GetRequiredService<Wolverine.IMessageBus>();
            await bus.InvokeAsync(new RunTurnStep(sessionId, turnId, 1, inputId));
            await bus.InvokeAsync(new RunTurnStep(sessionId, turnId, 2, inputId));
            await bus.InvokeAsync(new RunTurnStep(sessionId, turnId, 2));
        }

        fake.Requests.Count.ShouldBe(requests);
        (await api.EventsAsync(sessionId)).Count.ShouldBe(events.Count);

        // A provider error fails the turn with a message the user can read; the session stays usable.
        await api.PostMessageAsync(sessionId, "please break");
        events = await api.WaitForTurnsAsync(sessionId, 3);
        var failed = events.LastTurnEnd();
        ((string)failed["type"]!).ShouldBe("turn.failed");
        ((string)failed["data"]!["error_code"]!).ShouldBe("processing_error");
        ((string)failed["data"]!["error"]!).ShouldContain("the fake refuses to answer");

        // A client's tool goes to the provider as a function, with its declared schema, beside the server's.
        var withClientTool = (string)(await api.CreateSessionAsync(new
        {
            agent_id = (string)agent["id"]!, model_id = "fake-large", tools = new[] { ClientToolsTests.Weather() }, parallel_tool_calls = false,
        }))["id"]!;
        await api.PostMessageAsync(withClientTool, "hello with tools");
        ((string)(await api.WaitForTurnsAsync(withClientTool)).Last()["type"]!).ShouldBe("turn.completed");
        var offered = fake.Requests.Last().Body["tools"]!.AsArray();
        offered.Select(t => (string)t!["function"]!["name"]!).ShouldBe(["current_time", "get_weather"]);
        var weather = offered[1]!["function"]!;
        ((string)weather["description"]!).ShouldBe("The weather in a city, from the user's own weather station.");
        ((string)weather["parameters"]!["properties"]!["city"]!["type"]!).ShouldBe("string");
        fake.Requests.Last().Body["parallel_tool_calls"]!.GetValue<bool>().ShouldBeFalse(); // the session's choice, honoured
    }

    [Fact]
    public async Task an_org_with_its_own_openai_connection_runs_its_turns_with_its_key_and_others_with_the_servers()
    {
        await using var fake = await FakeOpenAi.StartAsync();
        await using var database = await TestDatabase.CreateAsync("everruns_orgkey");
        await using var host = await TestHost.StartAsync(database.Url, settings: fake.ServerSettings(apiKey: "sk-server-key"));
        var admin = new ApiClient(host.Server.CreateClient());
        var org = (string)(await admin.PostAsync("/v1/orgs", new { name = "byok" })).Object["id"]!;
        var member = await admin.PostAsync($"/v1/orgs/{org}/members", new { name = "byok admin", role = "admin" });
        var byok = new ApiClient(host.Server.CreateClient().As((string)member.Object["token"]!["token"]!));
        (await byok.PostAsync("/v1/providers", new { name = "ours", provider_type = "openai", api_key = "sk-org-own-key" }))
            .Status.ShouldBe(HttpStatusCode.Created);

        var theirs = (string)(await byok.CreateSessionAsync())["id"]!;
        await byok.PostMessageAsync(theirs, "with our key");
        ((string)(await byok.WaitForTurnsAsync(theirs)).Last()["type"]!).ShouldBe("turn.completed");
        fake.Requests.Last().Authorization.ShouldBe("Bearer sk-org-own-key");

        // The default org has no connection: the server's key.
        var ours = (string)(await admin.CreateSessionAsync())["id"]!;
        await admin.PostMessageAsync(ours, "with the server key");
        ((string)(await admin.WaitForTurnsAsync(ours)).Last()["type"]!).ShouldBe("turn.completed");
        fake.Requests.Last().Authorization.ShouldBe("Bearer sk-server-key");

        // Disabled connection: back to the server's key.
        var providers = (await byok.GetAsync("/v1/providers")).Object["data"]!.AsArray();
        (await byok.PatchAsync($"/v1/providers/{providers[0]!["id"]}", new { status = "disabled" })).Status.ShouldBe(HttpStatusCode.OK);
        await byok.PostMessageAsync(theirs, "again");
        await byok.WaitForTurnsAsync(theirs, turns: 2);
        fake.Requests.Last().Authorization.ShouldBe("Bearer sk-server-key");
    }
}
