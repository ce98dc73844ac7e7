using System.Net;
using System.Text.Json.Nodes;
using Everruns.Tests.Identity;
using Everruns.Tests.Infrastructure;

namespace Everruns.Tests.Api;

/// <summary>Client-side tools: declared by agents and sessions, called by the model, run by the client, waited for durably.</summary>
[Collection(AppCollection.Name)]
public sealed class ClientToolsTests(AppFixture app)
{
    private readonly ApiClient _api = app.Api;

    public static object Weather(string name = "get_weather") => new
    {
        type = "client_side",
        name,
        description = "The weather in a city, from the user's own weather station.",
        display_name = "Weather",
        parameters = new { type = "object", properties = new { city = new { type = "string" } }, required = new[] { "city" } },
    };

    internal static async Task<string> SessionWithWeatherToolAsync(ApiClient api, object? capabilities = null)
    {
        var agent = await api.PostAsync("/v1/agents", new
        {
            name = Names.Unique("weather"), system_prompt = "You report the weather.", tools = new[] { Weather() },
            capabilities = capabilities ?? Array.Empty<object>(),
        });
        agent.Status.ShouldBe(HttpStatusCode.Created, agent.Text);
        return (string)(await api.CreateSessionAsync(new { agent_id = agent.Object["id"] }))["id"]!;
    }

    /// <summary>Polls the session until it shows the status.</summary>
    internal static async Task<JsonObject> WaitForStatusAsync(ApiClient api, string sessionId, string status)
    {
        JsonObject session = null!;
        await Eventually.Until(async () =>
        {
            session = (await api.GetAsync($"/v1/sessions/{sessionId}")).Object;
            return (string)session["status"]! == status;
        }, TimeSpan.FromSeconds(20));
        return session;
    }

    [Fact]
    public async Task the_model_calls_a_client_tool_the_turn_waits_and_the_posted_result_reaches_the_answer()
    {
        var sessionId = await SessionWithWeatherToolAsync(_api);
        (await _api.GetAsync($"/v1/sessions/{sessionId}")).Object["tools"]!.AsArray().Count.ShouldBe(0); // the agent's, not its own

        await using var sse = await SseClient.OpenAsync(_api.Http, $"/v1/sessions/{sessionId}/sse");
        (await sse.NextAsync()).Event.ShouldBe("connected");
        await _api.PostMessageAsync(sessionId, """call get_weather {"city":"Paris"}""");

        var requested = (await sse.UntilAsync(f => f.Event == "tool.call_requested")).Last().Json["data"]!;
        var call = requested["tool_calls"]![0]!;
        ((string)call["name"]!).ShouldBe("get_weather");
        ((string)call["arguments"]!["city"]!).ShouldBe("Paris");
        var callId = (string)call["id"]!;
        ((string)requested["tool_summaries"]![0]!["display_name"]!).ShouldBe("Weather");
        ((string)requested["headline"]!).ShouldBe("Waiting for Weather");

        await WaitForStatusAsync(_api, sessionId, "waiting_for_tool_results");
        var listed = (await _api.GetAsync("/v1/sessions?limit=100")).Object["data"]!.AsArray().Single(s => (string)s!["id"]! == sessionId)!;
        ((string)listed["status"]!).ShouldBe("waiting_for_tool_results");

        var accepted = await _api.PostAsync($"/v1/sessions/{sessionId}/tool-results",
            new { tool_results = new[] { new { tool_call_id = callId, result = (object)new { temp_c = 21, sky = "clear" } } } });
        accepted.Status.ShouldBe(HttpStatusCode.OK, accepted.Text);
        ((string)accepted.Object["status"]!).ShouldBe("accepted");
        accepted.Object["tool_results_count"]!.GetValue<int>().ShouldBe(1);
        accepted.Object["accepted"]!.GetValue<int>().ShouldBe(1);

        var frames = await sse.UntilAsync(f => f.Event == "turn.completed");
        var completed = frames.Single(f => f.Event == "tool.completed").Json["data"]!;
        ((string)completed["tool_call_id"]!).ShouldBe(callId);
        ((string)completed["status"]!).ShouldBe("success");
        var answer = (string)frames.Last(f => f.Event == "output.message.completed").Json["data"]!["message"]!["content"]![0]!["text"]!;
        answer.ShouldContain("\"temp_c\":21");
        frames.ShouldNotContain(f => f.Event == "tool.started"); // the server ran nothing

        // The model saw the result once; the session is idle again.
        var events = await _api.EventsAsync(sessionId);
        events.Count(e => (string)e["type"]! == "tool.completed").ShouldBe(1);
        await WaitForStatusAsync(_api, sessionId, "idle");
    }

    [Fact]
    public async Task server_tools_of_the_same_answer_run_first_and_only_the_client_calls_are_requested()
    {
        var sessionId = await SessionWithWeatherToolAsync(_api, new[] { new { @ref = "current_time" } });
        await _api.PostMessageAsync(sessionId, """call current_time and call get_weather {"city":"Oslo"}""");
        var session = await WaitForStatusAsync(_api, sessionId, "waiting_for_tool_results");
        session.ShouldNotBeNull();

        var events = await _api.EventsAsync(sessionId);
        var types = events.Select(e => (string)e["type"]!).ToList();
        types.IndexOf("tool.completed").ShouldBeLessThan(types.IndexOf("tool.call_requested")); // current_time ran first
        ((string)events.Single(e => (string)e["type"]! == "tool.started")["data"]!["tool_call"]!["name"]!).ShouldBe("current_time");
        var requested = events.Single(e => (string)e["type"]! == "tool.call_requested")["data"]!["tool_calls"]!.AsArray();
        requested.Select(c => (string)c!["name"]!).ShouldBe(["get_weather"]);

        (await _api.PostAsync($"/v1/sessions/{sessionId}/tool-results",
            new { tool_results = new[] { new { tool_call_id = (string)requested[0]!["id"]!, error = "the station is offline" } } }))
            .Status.ShouldBe(HttpStatusCode.OK);
        events = await _api.WaitForTurnsAsync(sessionId);
        ((string)events.Last()["type"]!).ShouldBe("turn.completed");
        var failed = events.Last(e => (string)e["type"]! == "tool.completed")["data"]!;
        ((string)failed["status"]!).ShouldBe("error");
        ((string)failed["error"]!).ShouldBe("the station is offline");
        ((string)events.Last(e => (string)e["type"]! == "output.message.completed")["data"]!["message"]!["content"]![0]!["text"]!)
            .ShouldContain("the station is offline"); // what the model saw
    }

    [Fact]
    public async Task tool_results_are_refused_with_a_clear_status_and_nothing_is_written()
    {
        var sessionId = await SessionWithWeatherToolAsync(_api);
        var url = $"/v1/sessions/{sessionId}/tool-results";

        // Not waiting (yet): 409, in the words the SDKs retry on.
        var early = await _api.PostAsync(url, new { tool_results = new[] { new { tool_call_id = "call_x", result = "x" } } });
        early.ShouldBeProblem(HttpStatusCode.Conflict, "not_waiting_for_tool_results");
        ((string)early.Object["detail"]!).ShouldContain("not waiting for tool results");
        (await _api.PostAsync($"/v1/sessions/session_{Guid.NewGuid():N}/tool-results", new { tool_results = new[] { new { tool_call_id = "c", result = 1 } } }))
            .ShouldBeProblem(HttpStatusCode.NotFound, "session_not_found");

        await _api.PostMessageAsync(sessionId, """call get_weather {"city":"Rome"} and call get_weather {"city":"Oslo"}""");
        await WaitForStatusAsync(_api, sessionId, "waiting_for_tool_results");
        var calls = (await _api.EventsAsync(sessionId)).Single(e => (string)e["type"]! == "tool.call_requested")["data"]!["tool_calls"]!.AsArray()
            .Select(c => (string)c!["id"]!).ToList();
        calls.Count.ShouldBe(2);
        var before = (await _api.EventsAsync(sessionId)).Count;

        (await _api.PostAsync(url, new { tool_results = Array.Empty<object>() })).ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_tool_results");
        (await _api.PostAsync(url, new { tool_results = new[] { new { tool_call_id = calls[0], result = "sunny" } } }))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "missing_tool_results");
        (await _api.PostAsync(url, new { tool_results = new[] { Result(calls[0]), Result(calls[1]), Result("call_other") } }))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "unknown_tool_call_id");
        (await _api.PostAsync(url, new { tool_results = new[] { Result(calls[0]), Result(calls[0]) } }))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "duplicate_tool_call_id");
        (await _api.PostAsync(url, new { tool_results = new[] { new { tool_call_id = calls[0] } } }))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_tool_results");
        (await _api.PostAsync(url, new { tool_results = new object[] { new { tool_call_id = calls[0], result = new string('x', 101 * 1024) }, Result(calls[1]) } }))
            .ShouldBeProblem(HttpStatusCode.RequestEntityTooLarge, "tool_result_too_large");
        (await _api.PostAsync(url, new { tool_results = new[] { new { tool_call_id = calls[0], result = "x", extra = 1 } } }))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "unknown_field");
        // Another org's client sees no such session.
        var (_, _, stranger) = await TenancyTests.NewOrgAsync(app, Names.Unique("stranger"));
        (await stranger.PostAsync(url, new { tool_results = new[] { Result(calls[0]), Result(calls[1]) } }))
            .ShouldBeProblem(HttpStatusCode.NotFound, "session_not_found");
        (await _api.EventsAsync(sessionId)).Count.ShouldBe(before);
        await WaitForStatusAsync(_api, sessionId, "waiting_for_tool_results");

        // Two clients racing with the whole batch: one is taken, the other told the turn moved on; the model sees it once.
        var body = new { tool_results = new[] { Result(calls[0]), Result(calls[1]) } };
        var raced = await Task.WhenAll(_api.PostAsync(url, body), app.Api.PostAsync(url, body));
        raced.Select(r => r.Status).Order().ShouldBe([HttpStatusCode.OK, HttpStatusCode.Conflict]);
        var events = await _api.WaitForTurnsAsync(sessionId);
        events.Count(e => (string)e["type"]! == "tool.completed").ShouldBe(2);
        ((string)events.Last()["type"]!).ShouldBe("turn.completed");
    }

    private static object Result(string id) => new { tool_call_id = id, result = "sunny" };

    [Fact]
    public async Task a_new_message_ends_the_wait_and_cancel_ends_it_too()
    {
        var sessionId = await SessionWithWeatherToolAsync(_api);
        await _api.PostMessageAsync(sessionId, """call get_weather {"city":"Kyiv"}""");
        await WaitForStatusAsync(_api, sessionId, "waiting_for_tool_results");

        // A new message: the waiting calls get an error result, the turn is cancelled, the new message's turn runs.
        await _api.PostMessageAsync(sessionId, "never mind");
        var events = await _api.WaitForTurnsAsync(sessionId, 2);
        var cancelled = events.Single(e => (string)e["type"]! == "turn.cancelled")["data"]!;
        ((string)cancelled["reason"]!).ShouldBe("user sent a new message");
        var abandoned = events.Single(e => (string)e["type"]! == "tool.completed")["data"]!;
        ((string)abandoned["status"]!).ShouldBe("cancelled");
        ((string)abandoned["error"]!).ShouldBe("Cancelled: user sent a new message");
        ((string)events.Last()["type"]!).ShouldBe("turn.completed");
        ((string)events.Last(e => (string)e["type"]! == "output.message.completed")["data"]!["message"]!["content"]![0]!["text"]!)
            .ShouldBe("Echo: never mind");

        // Cancel while waiting: turn.cancelled, idle, and results come too late.
        await _api.PostMessageAsync(sessionId, """call get_weather {"city":"Lviv"}""");
        await WaitForStatusAsync(_api, sessionId, "waiting_for_tool_results");
        var cancel = await _api.PostAsync($"/v1/sessions/{sessionId}/cancel");
        ((string)cancel.Object["status"]!).ShouldBe("cancelled");
        await WaitForStatusAsync(_api, sessionId, "idle");
        var callId = (string)(await _api.EventsAsync(sessionId)).Last(e => (string)e["type"]! == "tool.call_requested")["data"]!["tool_calls"]![0]!["id"]!;
        (await _api.PostAsync($"/v1/sessions/{sessionId}/tool-results", new { tool_results = new[] { Result(callId) } }))
            .ShouldBeProblem(HttpStatusCode.Conflict, "not_waiting_for_tool_results");
    }

    [Fact]
    public async Task declarations_are_validated_and_a_refused_one_writes_nothing()
    {
        var name = Names.Unique("tools");
        async Task Refused(object tool, string code, int count = 1)
        {
            var response = await _api.PostAsync("/v1/agents", new { name, system_prompt = "x", tools = Enumerable.Repeat(tool, count) });
            response.ShouldBeProblem(HttpStatusCode.BadRequest, code);
        }

        await Refused(Weather(), "invalid_tools", 51);
        await Refused(Weather(new string('w', 65)), "invalid_tools");
        await Refused(Weather("has space"), "invalid_tools");
        await Refused(Weather("mcp_weather"), "invalid_tools");
        await Refused(Weather("current_time"), "invalid_tools");
        await Refused(Weather(), "duplicate_tool_name", 2);
        await Refused(new { type = "client_side", name = "t", description = new string('d', 1025), parameters = new { type = "object" } }, "invalid_tools");
        await Refused(new { type = "client_side", name = "t", description = "d", parameters = "a string" }, "invalid_tools");
        await Refused(new { type = "client_side", name = "t", description = "d", parameters = new { type = "array" } }, "invalid_tools");
        await Refused(new { type = "client_side", name = "t", description = "d", parameters = new { type = "object", description = new string('p', 10 * 1024) } }, "invalid_tools");
        await Refused(new { type = "builtin", name = "t", description = "d", parameters = new { type = "object" } }, "unsupported_tool_type");
        await Refused(new { type = "client_side", name = "t", description = "d", parameters = new { type = "object" }, deferrable = "always" }, "unsupported_field");
        await Refused(new { type = "client_side", name = "t", description = "d", parameters = new { type = "object" }, policy = "auto" }, "unknown_field");
        (await _api.GetAsync($"/v1/agents?search={name}")).Object["total"]!.GetValue<int>().ShouldBe(0);

        // A session's own tools come on top of its agent's: another name is fine, the same one is refused.
        var agent = await _api.PostAsync("/v1/agents", new { name, system_prompt = "x", tools = new[] { Weather() } });
        agent.Status.ShouldBe(HttpStatusCode.Created, agent.Text);
        ((string)agent.Object["tools"]![0]!["type"]!).ShouldBe("client_side");
        agent.Object["tools"]![0]!["parameters"]!["required"]![0]!.ToString().ShouldBe("city");
        (await _api.PostAsync("/v1/sessions", new { agent_id = agent.Object["id"], tools = new[] { Weather() } }))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "duplicate_tool_name");
        var session = await _api.PostAsync("/v1/sessions", new { agent_id = agent.Object["id"], tools = new[] { Weather("open_url") } });
        session.Status.ShouldBe(HttpStatusCode.Created, session.Text);
        session.Object["tools"]!.AsArray().Select(t => (string)t!["name"]!).ShouldBe(["open_url"]);

        // The field's earlier name, client_tools ("type":"client"), declares the same tools; not both at once.
        var legacy = await _api.PostAsync("/v1/agents", new
        {
            name = Names.Unique("legacy"), system_prompt = "x",
            client_tools = new[] { new { type = "client", name = "open_url", description = "Opens a URL", parameters = new { type = "object" } } },
        });
        legacy.Status.ShouldBe(HttpStatusCode.Created, legacy.Text);
        ((string)legacy.Object["tools"]![0]!["type"]!).ShouldBe("client_side");
        legacy.Object.ContainsKey("shown").ShouldBeFalse();
        (await _api.PostAsync("/v1/agents", new { name = Names.Unique("both"), system_prompt = "x", tools = new[] { Weather() }, client_tools = new[] { Weather("b") } }))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_tools");

        // PATCH replaces the agent's tools.
        var patched = await _api.PatchAsync($"/v1/agents/{agent.Object["id"]}", new { tools = Array.Empty<object>() });
        patched.Object["tools"]!.AsArray().Count.ShouldBe(0);
    }
}

/// <summary>A turn waiting for a client's results holds nothing: it outlives its instance, and goes on from any other.</summary>
public sealed class ClientToolsClusterTests
{
    [Fact]
    public async Task results_posted_on_a_new_instance_after_every_instance_was_killed_complete_the_turn()
    {
        await using var cluster = await Infrastructure.Cluster.StartAsync(2, prefix: "everruns_client_tools");
        var first = cluster.Api(0);
        var sessionId = await ClientToolsTests.SessionWithWeatherToolAsync(first);
        await first.PostMessageAsync(sessionId, """call get_weather {"city":"Tokyo"}""");
        await ClientToolsTests.WaitForStatusAsync(first, sessionId, "waiting_for_tool_results");
        // kill -9 of every instance, the one that ran the turn first: the wait is a row, and a new instance takes it on.
        cluster.Nodes[0].Kill();
        cluster.Nodes[1].Kill();
        await cluster.AddNodeAsync();

        var second = cluster.Api(2);
        var callId = (string)(await second.EventsAsync(sessionId)).Single(e => (string)e["type"]! == "tool.call_requested")["data"]!["tool_calls"]![0]!["id"]!;
        (await second.PostAsync($"/v1/sessions/{sessionId}/tool-results",
            new { tool_results = new[] { new { tool_call_id = callId, result = (object)new { temp_c = 9 } } } })).Status.ShouldBe(HttpStatusCode.OK);
        var events = await second.WaitForTurnsAsync(sessionId, within: TimeSpan.FromSeconds(60));
        ((string)events.Last()["type"]!).ShouldBe("turn.completed");
        ((string)events.Last(e => (string)e["type"]! == "output.message.completed")["data"]!["message"]!["content"]![0]!["text"]!)
            .ShouldContain("\"temp_c\":9");
    }

    [Fact]
    public async Task a_wait_past_the_timeout_goes_on_with_a_timeout_error_the_model_sees()
    {
        await using var database = await TestDatabase.CreateAsync("everruns_tool_timeout");
        await using var host = await TestHost.StartAsync(database.Url, settings: new Dictionary<string, string>
        {
            ["CLIENT_TOOL_TIMEOUT_SECS"] = "1", ["MAINTENANCE_INTERVAL_SECS"] = "0.5",
        });
        var api = new ApiClient(host.Server.CreateClient());
        var sessionId = await ClientToolsTests.SessionWithWeatherToolAsync(api);
        await api.PostMessageAsync(sessionId, """call get_weather {"city":"Lima"}""");

        var events = await api.WaitForTurnsAsync(sessionId, within: TimeSpan.FromSeconds(30));
        ((string)events.Last()["type"]!).ShouldBe("turn.completed");
        var timedOut = events.Single(e => (string)e["type"]! == "tool.completed")["data"]!;
        ((string)timedOut["status"]!).ShouldBe("timeout");
        ((string)timedOut["error"]!).ShouldBe("Timed out waiting for client tool results");
        ((string)events.Last(e => (string)e["type"]! == "output.message.completed")["data"]!["message"]!["content"]![0]!["text"]!)
            .ShouldContain("Timed out");
    }
}
