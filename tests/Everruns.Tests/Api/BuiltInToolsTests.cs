using System.Net;
using System.Text.Json.Nodes;
using Everruns.Tests.Identity;
using Everruns.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Everruns.Tests.Api;

/// <summary>The built-in catalog: what GET /v1/capabilities lists works, and what it does not list is refused.</summary>
[Collection(AppCollection.Name)]
public sealed class CapabilityCatalogTests(AppFixture app)
{
    private readonly ApiClient _api = app.Api;

    [Fact]
    public async Task the_catalog_lists_each_capability_with_its_tools_and_refuses_the_rest_by_name()
    {
        var listed = (await _api.GetAsync("/v1/capabilities")).Object["data"]!.AsArray();
        listed.Select(c => (string)c!["id"]!).ShouldBe(["current_time", "web_fetch", "session_storage", "session_file_system", "memory"]);
        listed.Single(c => (string)c!["id"]! == "session_storage")!["tool_definitions"]!.AsArray().Select(t => (string)t!["name"]!)
            .ShouldBe(["storage_set", "storage_get", "storage_list", "storage_delete"]);
        var fetch = listed.Single(c => (string)c!["id"]! == "web_fetch")!["tool_definitions"]![0]!;
        ((string)fetch["parameters"]!["required"]![0]!).ShouldBe("url");

        var refused = await _api.PostAsync("/v1/sessions", new { capabilities = new[] { new { @ref = "stateless_todo_list" } } });
        refused.ShouldBeProblem(HttpStatusCode.BadRequest, "capability_not_supported");
        ((string)refused.Object["detail"]!).ShouldContain("'stateless_todo_list'");
    }

    [Fact]
    public async Task session_storage_is_written_with_the_calls_results_read_back_in_later_turns_and_through_the_api()
    {
        var sessionId = (string)(await _api.CreateSessionAsync(new { capabilities = new[] { new { @ref = "session_storage" } } }))["id"]!;
        // One answer: the set, then a get that sees it (the same transaction, not committed yet).
        await _api.PostMessageAsync(sessionId, """call storage_set {"key":"city","value":"Paris"} then call storage_get {"key":"city"}""");
        var events = await _api.WaitForTurnsAsync(sessionId);
        var results = events.Where(e => (string)e["type"]! == "tool.completed").Select(e => e["data"]!).ToList();
        results.ShouldAllBe(r => (bool)r["success"]!);
        var got = JsonNode.Parse((string)results[1]["result"]![0]!["text"]!)!;
        ((string)got["value"]!).ShouldBe("Paris");

        var keys = (await _api.GetAsync($"/v1/sessions/{sessionId}/storage/keys")).Object["data"]!.AsArray();
        keys.Select(k => ((string)k!["key"]!, (string)k["value"]!)).ShouldBe([("city", "Paris")]);
        keys[0]!["created_at"].ShouldNotBeNull();

        // Later turns see it; a delete empties it.
        await _api.PostMessageAsync(sessionId, """call storage_set {"key":"country","value":"France"} and call storage_list""");
        events = await _api.WaitForTurnsAsync(sessionId, 2);
        var list = JsonNode.Parse((string)events.Last(e => (string)e["type"]! == "tool.completed")["data"]!["result"]![0]!["text"]!)!;
        list["keys"]!.AsArray().Select(k => (string)k!).ShouldBe(["city", "country"]);
        await _api.PostMessageAsync(sessionId, """call storage_delete {"key":"city"}""");
        await _api.WaitForTurnsAsync(sessionId, 3);
        (await _api.GetAsync($"/v1/sessions/{sessionId}/storage/keys")).Object["data"]!.AsArray().Select(k => (string)k!["key"]!)
            .ShouldBe(["country"]);

        // Another org's client sees no such session.
        var (_, _, stranger) = await TenancyTests.NewOrgAsync(app, Names.Unique("storage"));
        (await stranger.GetAsync($"/v1/sessions/{sessionId}/storage/keys")).ShouldBeProblem(HttpStatusCode.NotFound, "session_not_found");
    }
}

/// <summary>
/// <c>web_fetch</c> against a loopback server reached through WEB_FETCH_ALLOW_HOSTS (as <c>localhost</c>), and the guard
/// refusing loopback (as 127.0.0.1), private, metadata and redirected-to-loopback addresses.
/// </summary>
public sealed class WebFetchTests
{
    [Fact]
    public async Task web_fetch_reads_allowed_hosts_and_refuses_internal_addresses_after_resolution_and_on_redirects()
    {
        await using var site = await LoopbackSite.StartAsync();
        await using var database = await TestDatabase.CreateAsync("everruns_web_fetch");
        await using var host = await TestHost.StartAsync(database.Url, settings: new Dictionary<string, string> { ["WEB_FETCH_ALLOW_HOSTS"] = "localhost" });
        var api = new ApiClient(host.Server.CreateClient());
        var sessionId = (string)(await api.CreateSessionAsync(new { capabilities = new[] { new { @ref = "web_fetch" } } }))["id"]!;

        async Task<JsonObject> FetchAsync(string url, int turn)
        {
            await api.PostMessageAsync(sessionId, $$"""call web_fetch {"url":"{{url}}"}""");
            var events = await api.WaitForTurnsAsync(sessionId, turn);
            ((string)events.Last()["type"]!).ShouldBe("turn.completed"); // a refused fetch is the tool's error, not the turn's
            return events.Last(e => (string)e["type"]! == "tool.completed")["data"]!.AsObject();
        }

        var page = await FetchAsync($"http://localhost:{site.Port}/page", 1);
        ((bool)page["success"]!).ShouldBeTrue(page.ToJsonString());
        var fetched = JsonNode.Parse((string)page["result"]![0]!["text"]!)!;
        ((int)fetched["status"]!).ShouldBe(200);
        var text = (string)fetched["content"]!;
        text.ShouldContain("Weather in Paris");
        text.ShouldContain("Sunny & 21 °C");
        text.ShouldNotContain("<p>");
        text.ShouldNotContain("tracker()");

        var json = JsonNode.Parse((string)(await FetchAsync($"http://localhost:{site.Port}/data.json", 2))["result"]![0]!["text"]!)!;
        ((string)json["content"]!).ShouldContain("\"temp_c\":21");

        var big = JsonNode.Parse((string)(await FetchAsync($"http://localhost:{site.Port}/big", 3))["result"]![0]!["text"]!)!;
        big["truncated"].ShouldNotBeNull();
        ((string)big["content"]!).Length.ShouldBe(1024 * 1024);

        var turn = 3;
        foreach (var (url, says) in new[]
                 {
                     ($"http://127.0.0.1:{site.Port}/page", "loopback"),
                     ("http://10.1.2.3/", "private"),
                     ("http://169.254.169.254/latest/meta-data/", "metadata"),
                     ($"http://localhost:{site.Port}/to-loopback", "loopback"),
                     ("file:///etc/passwd", "not an http(s) URL"),
                 })
        {
            var refused = await FetchAsync(url, ++turn);
            ((bool)refused["success"]!).ShouldBeFalse(url);
            ((string)refused["error"]!).ShouldContain(says);
        }

        site.Requests.ShouldNotContain("/page-from-redirect"); // the redirect's target was never reached
    }

    /// <summary>A small site on a loopback port: a page, JSON, 2 MiB of text, and a redirect to its own 127.0.0.1 address.</summary>
    private sealed class LoopbackSite : IAsyncDisposable
    {
        private readonly WebApplication _app;
        public int Port { get; private set; }
        public System.Collections.Concurrent.ConcurrentBag<string> Requests { get; } = [];

        private LoopbackSite(WebApplication app) => _app = app;

        public static async Task<LoopbackSite> StartAsync()
        {
            var app = LoopbackServer.Builder().Build();
            var site = new LoopbackSite(app);
            app.Use(async (context, next) =>
            {
                site.Requests.Add(context.Request.Path);
                await next();
            });
            app.MapGet("/page", () => Results.Content("""
                <html><head><style>p { color: red }</style><script>tracker()</script></head>
                <body><h1>Weather in Paris</h1><p>Sunny &amp; 21&nbsp;°C</p></body></html>
                """, "text/html; charset=utf-8"));
            app.MapGet("/data.json", () => Results.Content("""{"temp_c":21}""", "application/json"));
            app.MapGet("/big", () => Results.Content(new string('x', 2 * 1024 * 1024), "text/plain"));
            app.MapGet("/to-loopback", () => Results.Redirect($"http://127.0.0.1:{site.Port}/page-from-redirect"));
            app.MapGet("/page-from-redirect", () => "reached");
            await app.StartAsync();
            site.Port = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
            return site;
        }

        public async ValueTask DisposeAsync() => await _app.DisposeAsync();
    }
}
