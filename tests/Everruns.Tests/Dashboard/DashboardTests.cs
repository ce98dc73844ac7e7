using System.Diagnostics;
using System.Net;
using Everruns.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace Everruns.Tests.Dashboard;

/// <summary>The dashboard under /ui in Debian's chromium, against real server processes on a real PostgreSQL.</summary>
public sealed class DashboardTests
{
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(30);

    private static async Task SignInAsync(IPage page, string token = TestAuth.AdminToken)
    {
        await page.GotoAsync("/ui/");
        await page.FillAsync("#token", token);
        await page.ClickAsync("form button[type=submit]");
        await page.WaitForSelectorAsync("#sessions");
    }

    /// <summary>The ids of the events the timeline shows, in order.</summary>
    private static Task<string[]> TimelineIdsAsync(IPage page) =>
        page.EvalOnSelectorAllAsync<string[]>("#timeline [data-event-id]", "nodes => nodes.map(n => n.dataset.eventId)");

    /// <summary>The ids of what the timeline shows of a session's stored events (all but the streaming deltas and the model-call records).</summary>
    private static async Task<string[]> StoredIdsAsync(ApiClient api, string sessionId) =>
        (await api.EventsAsync(sessionId)).Where(e => !((string)e["type"]!).EndsWith(".delta", StringComparison.Ordinal) && (string)e["type"]! != "llm.generation")
        .Select(e => (string)e["id"]!).ToArray();

    private static async Task UntilAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + Within;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"timed out waiting for {what}");
            await Task.Delay(50);
        }
    }

    private static Task<int> CountAsync(IPage page, string selector) => page.Locator(selector).CountAsync();

    private static async Task ShotAsync(IPage page, string name)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Browser.ScreenshotPath(name))!);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Browser.ScreenshotPath(name), FullPage = false });
    }

    [SkippableFact]
    public async Task a_user_signs_in_builds_an_agent_talks_to_it_live_in_two_tabs_and_signs_out()
    {
        Skip.If(Browser.Chromium is null, Browser.Missing);
        await using var fake = await FakeOpenAi.StartAsync();
        await using var database = await TestDatabase.CreateAsync("everruns_ui");
        await using var host = HostProcess.Start(database.Url, fake.ServerSettings());
        await host.WaitUntilReadyAsync(TimeSpan.FromSeconds(120));
        var api = new ApiClient(host.Http);
        var baseUrl = host.BaseAddress.ToString().TrimEnd('/');
        await using var browser = await Browser.LaunchAsync();
        await using var context = await browser.ContextAsync(baseUrl);
        var page = await context.NewPageAsync();

        await page.GotoAsync("/ui/");
        await page.WaitForSelectorAsync("#token");
        await ShotAsync(page, "sign-in.png");
        await SignInAsync(page);
        // The token is not kept anywhere the page's scripts can read; the cookie is HttpOnly and SameSite=Strict.
        (await page.EvaluateAsync<string>("() => document.cookie + JSON.stringify(localStorage) + JSON.stringify(sessionStorage)")).ShouldNotContain("evr_pat_");
        var cookie = (await context.CookiesAsync()).Single(c => c.Name == "everruns_session");
        cookie.HttpOnly.ShouldBeTrue();
        cookie.SameSite.ShouldBe(SameSiteAttribute.Strict);

        // An agent, made in the page.
        await page.ClickAsync("a[data-nav=agents]");
        await page.ClickAsync("#new-agent");
        await page.FillAsync("#agent-name", "poet");
        await page.FillAsync("#agent-display-name", "The poet");
        await page.FillAsync("#agent-prompt", "You answer in verse.");
        await page.CheckAsync("input[name=capability][value=current_time]");
        await page.ClickAsync("#save-agent");
        await page.WaitForSelectorAsync("#agents >> text=The poet");
        var agent = (await api.GetAsync("/v1/agents?search=poet")).Object["data"]![0]!;
        ((string)agent["system_prompt"]!).ShouldBe("You answer in verse.");
        await ShotAsync(page, "agents.png");

        // A session with it, and a message: the answer grows word by word.
        await page.ClickAsync("a[data-nav=sessions]");
        await page.SelectOptionAsync("#new-session-agent", (string)agent["id"]!);
        await page.FillAsync("#new-session-title", "A long conversation about verse, meter, rhyme and everything else a poet keeps in mind while writing");
        await page.ClickAsync("form.card button[type=submit]");
        await page.WaitForSelectorAsync("#message");
        var sessionId = page.Url.Split('/').Last();
        await UntilAsync(async () => await page.TextContentAsync("#stream-state") == "live", "the stream");

        await page.FillAsync("#message", "please answer word by word");
        await page.ClickAsync("#send");
        var seen = new List<string>();
        await UntilAsync(async () =>
        {
            var text = await page.EvaluateAsync<string?>("() => document.querySelector('#timeline .msg.agent')?.textContent ?? null");
            if (text is not null && (seen.Count == 0 || seen[^1] != text)) seen.Add(text);
            return await CountAsync(page, "#timeline [data-type='turn.completed']") == 1;
        }, "the answer");
        seen[^1].ShouldBe("Fake says: please answer word by word");
        seen.Count(t => t.Length > 0 && t != seen[^1]).ShouldBeGreaterThanOrEqualTo(2, string.Join(" | ", seen)); // it grew in steps
        (await TimelineIdsAsync(page)).ShouldBe(await StoredIdsAsync(api, sessionId));

        // A second tab sees the same timeline, and what the first one sends, live.
        var second = await context.NewPageAsync();
        await second.GotoAsync($"/ui/#/sessions/{sessionId}");
        await UntilAsync(async () => (await TimelineIdsAsync(second)).Length == (await TimelineIdsAsync(page)).Length, "the second tab's history");
        await second.FillAsync("#message", "and again word by word");
        await second.ClickAsync("#send");
        await UntilAsync(async () => await CountAsync(page, "#timeline [data-type='turn.completed']") == 2, "the first tab to see the second turn");
        await UntilAsync(async () => await CountAsync(second, "#timeline [data-type='turn.completed']") == 2, "the second tab's turn");
        var stored = await StoredIdsAsync(api, sessionId);
        (await TimelineIdsAsync(page)).ShouldBe(stored);
        (await TimelineIdsAsync(second)).ShouldBe(stored);
        await ShotAsync(page, "session.png");
        await second.CloseAsync();

        // The list shows it, with its status; the cluster page its instance.
        await page.ClickAsync("a[data-nav=sessions]");
        await page.WaitForSelectorAsync($"#sessions tr[data-session-id='{sessionId}']");
        await ShotAsync(page, "sessions.png");
        await page.ClickAsync("a[data-nav=cluster]");
        await page.WaitForSelectorAsync("#instances tbody tr");
        await page.WaitForSelectorAsync(".chart svg polyline");
        await ShotAsync(page, "cluster.png");

        // A phone's width: no page wider than the screen.
        var phone = await browser.ContextAsync(baseUrl, 390, 844);
        var small = await phone.NewPageAsync();
        await SignInAsync(small);
        await small.GotoAsync($"/ui/#/sessions/{sessionId}");
        await small.WaitForSelectorAsync("#timeline [data-type='turn.completed']");
        (await small.EvaluateAsync<int>("() => document.documentElement.scrollWidth")).ShouldBeLessThanOrEqualTo(390);
        await ShotAsync(small, "session-phone.png");
        await phone.CloseAsync();

        // Signing out ends the session: the cookie no longer opens anything, on any request.
        await page.ClickAsync("#sign-out");
        await page.WaitForSelectorAsync("#token");
        (await page.EvaluateAsync<int>("async () => (await fetch('/v1/sessions')).status")).ShouldBe(401);
    }

    [SkippableFact]
    public async Task a_revoked_token_ends_its_sessions_and_another_origin_cannot_use_the_cookie()
    {
        Skip.If(Browser.Chromium is null, Browser.Missing);
        await using var database = await TestDatabase.CreateAsync("everruns_ui_csrf");
        await using var host = HostProcess.Start(database.Url);
        await host.WaitUntilReadyAsync(TimeSpan.FromSeconds(120));
        var api = new ApiClient(host.Http);
        await using var browser = await Browser.LaunchAsync();
        await using var context = await browser.ContextAsync(host.BaseAddress.ToString().TrimEnd('/'));
        var page = await context.NewPageAsync();

        var token = (await api.PostAsync("/v1/auth/personal-access-tokens", new { name = "dashboard" })).Object;
        await SignInAsync(page, (string)token["token"]!);

        // Another origin's page posts to the API with the browser's cookies: refused, nothing written.
        await using var evil = await EvilSiteAsync(host.Port);
        foreach (var origin in new[] { evil.SameSite, evil.CrossSite })
        {
            var attacker = await context.NewPageAsync();
            var refused = attacker.WaitForResponseAsync(r => r.Url.Contains("/v1/agents"));
            await attacker.GotoAsync(origin);
            var status = (await refused).Status;
            // Same site, other origin: the cookie goes along, the Origin check refuses (403). Another site: no cookie (401).
            status.ShouldBe(origin == evil.SameSite ? 403 : 401);
            await attacker.CloseAsync();
        }

        (await api.GetAsync("/v1/agents?search=evil")).Object["data"]!.AsArray().ShouldBeEmpty();
        // The page's own changes carry the CSRF token and pass.
        (await page.EvaluateAsync<int>("""
            async () => (await fetch('/v1/agents', { method: 'POST', headers: { 'Content-Type': 'application/json' },
                body: JSON.stringify({ name: 'no-csrf', system_prompt: 'x' }) })).status
            """)).ShouldBe(403);

        // Revoking the token ends the dashboard session: the page's next read is refused and it asks to sign in.
        (await api.DeleteAsync($"/v1/auth/personal-access-tokens/{token["id"]}")).Status.ShouldBe(HttpStatusCode.NoContent);
        await page.WaitForSelectorAsync("#token", new PageWaitForSelectorOptions { Timeout = 15_000 });
        (await page.TextContentAsync("[role=alert]"))!.ShouldContain("session ended");
    }

    [SkippableFact]
    public async Task the_timeline_survives_the_instance_serving_its_stream_being_stopped_behind_caddy()
    {
        Skip.If(Browser.Chromium is null, Browser.Missing);
        Skip.If(Caddy.Binary is null, Caddy.Missing);
        await using var fake = await FakeOpenAi.StartAsync();
        var settings = fake.ServerSettings();
        settings["EXPECTED_INSTANCES"] = "2";
        await using var cluster = await Infrastructure.Cluster.StartAsync(2, settings, "everruns_ui_failover");
        await using var caddy = await Caddy.StartAsync(cluster.Nodes);
        await using var browser = await Browser.LaunchAsync();
        await using var context = await browser.ContextAsync(caddy.BaseAddress.ToString().TrimEnd('/'));
        var page = await context.NewPageAsync();
        var streams = new System.Collections.Concurrent.ConcurrentQueue<string>();
        page.Response += (_, response) =>
        {
            if (response.Url.Contains("/sse") && response.Status == 200 && response.Headers.TryGetValue("x-everruns-instance", out var instance))
                streams.Enqueue(instance);
        };

        var api = cluster.Api(0);
        var agent = await api.CreateAgentAsync(systemPrompt: "Answer slowly.");
        var sessionId = (string)(await api.CreateSessionAsync(new { agent_id = (string)agent["id"]!, title = "failover" }))["id"]!;
        await SignInAsync(page);
        await page.GotoAsync($"/ui/#/sessions/{sessionId}");
        await UntilAsync(async () => await page.TextContentAsync("#stream-state") == "live" && !streams.IsEmpty, "the stream");
        var serving = streams.First();
        var survivor = cluster.Nodes.Single(n => n.InstanceId != serving);

        await new ApiClient(survivor.Http).PostMessageAsync(sessionId, "first, word by word");
        await UntilAsync(async () => await CountAsync(page, "#timeline [data-type='turn.completed']") == 1, "the first answer");

        // The next answer is streaming when the instance serving the page's stream stops.
        await new ApiClient(survivor.Http).PostMessageAsync(sessionId, "second, word by word, while an instance stops");
        await UntilAsync(async () => await CountAsync(page, "#timeline .msg.agent") == 2, "the second answer to start");
        var stopped = cluster.Nodes.Single(n => n.InstanceId == serving);
        stopped.Terminate();
        (await stopped.WaitForExitAsync(TimeSpan.FromSeconds(30))).ShouldBeTrue();

        await UntilAsync(async () => await CountAsync(page, "#timeline [data-type='turn.completed']") == 2, "the second answer to end");
        await new ApiClient(survivor.Http).PostMessageAsync(sessionId, "third, after the stop");
        await UntilAsync(async () => await CountAsync(page, "#timeline [data-type='turn.completed']") == 3, "the third answer");
        streams.ShouldContain(survivor.InstanceId!); // the page's stream resumed on the other instance

        var shown = await TimelineIdsAsync(page);
        shown.Distinct().Count().ShouldBe(shown.Length); // no duplicate
        shown.ShouldBe(await StoredIdsAsync(new ApiClient(survivor.Http), sessionId)); // no gap
        (await page.TextContentAsync("#timeline .msg.agent >> nth=1")).ShouldBe("Fake says: second, word by word, while an instance stops");
    }

    /// <summary>A page on another origin (same site: 127.0.0.1 on another port; another site: localhost) that posts an agent to the API.</summary>
    private static async Task<EvilSite> EvilSiteAsync(int targetPort)
    {
        var builder = LoopbackServer.Builder();
        var app = builder.Build();
        var html = $$"""
            <!doctype html><script>
            fetch('http://127.0.0.1:{{targetPort}}/v1/agents', { method: 'POST', mode: 'no-cors', credentials: 'include',
              headers: { 'Content-Type': 'text/plain' }, body: JSON.stringify({ name: 'evil-agent', system_prompt: 'pwned' }) });
            </script>
            """;
        app.MapGet("/", () => Results.Content(html, "text/html"));
        await app.StartAsync();
        var port = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
        return new EvilSite(app, $"http://127.0.0.1:{port}/", $"http://localhost:{port}/");
    }

    private sealed record EvilSite(WebApplication App, string SameSite, string CrossSite) : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => App.DisposeAsync();
    }
}
