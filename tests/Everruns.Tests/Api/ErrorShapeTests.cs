using System.Net;
using Everruns.Tests.Infrastructure;

namespace Everruns.Tests.Api;

/// <summary>Every error is the one problem shape with a stable code, whoever wrote it: no framework shape, no .NET type name.</summary>
[Collection(AppCollection.Name)]
public sealed class ErrorShapeTests(AppFixture app)
{
    private readonly ApiClient _api = app.Api;

    private static void ShouldNameNoType(ApiResponse response)
    {
        response.Text.ShouldNotContain("Everruns.");
        response.Text.ShouldNotContain("System.");
        response.Text.ShouldNotContain("httpstatuses.com");
        response.Object.ContainsKey("lineNumber").ShouldBeFalse();
    }

    [Fact]
    public async Task a_malformed_body_is_invalid_json_with_where_it_failed()
    {
        var session = (string)(await _api.CreateSessionAsync())["id"]!;
        foreach (var (path, body) in new[]
                 {
                     ("/v1/agents", "{not json"), ("/v1/agents", "[1,2]"), ("/v1/sessions", "{\"title\": "),
                     ($"/v1/sessions/{session}/messages", "{\"message\": 42"),
                 })
        {
            var response = await _api.PostAsync(path, body);
            response.ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_json");
            ShouldNameNoType(response);
        }

        // A value of the wrong type: the problem says which field.
        var wrongType = await _api.PostAsync("/v1/agents", """{"name": 5, "system_prompt": "x"}""");
        wrongType.ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_json");
        ((string)wrongType.Object["path"]!).ShouldBe("$.name");
        ((string)wrongType.Object["detail"]!).ShouldContain("$.name");
        ShouldNameNoType(wrongType);

        // Nothing was written by the refused requests.
        (await _api.EventsAsync(session)).ShouldBeEmpty();
    }

    /// <summary>A field this server does not implement is refused by name, and nothing is written: never silently dropped.</summary>
    [Fact]
    public async Task a_field_this_server_does_not_implement_is_refused_by_name()
    {
        var agents = (await _api.GetAsync("/v1/agents?limit=100")).Object["total"]!.GetValue<int>();
        var refused = await _api.PostAsync("/v1/agents", new { name = Names.Unique("persona"), system_prompt = "x", persona = new[] { new { mood = "calm" } } });
        refused.ShouldBeProblem(HttpStatusCode.BadRequest, "unknown_field");
        ((string)refused.Object["detail"]!).ShouldContain("'persona'");
        ((string)refused.Object["path"]!).ShouldBe("$.persona");
        ShouldNameNoType(refused);
        (await _api.GetAsync("/v1/agents?limit=100")).Object["total"]!.GetValue<int>().ShouldBe(agents);

        var session = await _api.PostAsync("/v1/sessions", new { title = "mood", persona = "calm" });
        session.ShouldBeProblem(HttpStatusCode.BadRequest, "unknown_field");
        ((string)session.Object["detail"]!).ShouldContain("'persona'");
    }

    [Fact]
    public async Task an_unknown_route_or_method_has_a_code_too()
    {
        var unknown = await _api.GetAsync("/v1/no-such-thing");
        unknown.ShouldBeProblem(HttpStatusCode.NotFound, "route_not_found");
        ShouldNameNoType(unknown);
        (await _api.GetAsync("/nowhere")).ShouldBeProblem(HttpStatusCode.NotFound, "route_not_found");
        (await _api.SendAsync(HttpMethod.Put, "/v1/sessions", new { })).ShouldBeProblem(HttpStatusCode.MethodNotAllowed, "method_not_allowed");
    }
}
