using System.Net;
using System.Text.Json.Nodes;
using Everruns.Tests.Infrastructure;

namespace Everruns.Tests.Api;

/// <summary>
/// An org's own provider connections driving its turns, one per driver, each against a fake server on loopback that speaks
/// that provider's wire protocol (Anthropic's Messages SSE, Ollama's NDJSON chat, an Azure OpenAI resource's v1 API),
/// errors included.
/// </summary>
[Collection(AppCollection.Name)]
public sealed class ProviderDriverTests(AppFixture app)
{
    [Theory]
    [InlineData("anthropic", "claude-fake-large")]
    [InlineData("ollama", "llama-fake:latest")]
    [InlineData("azure_openai", "fake-large")]
    public async Task a_connection_streams_a_turn_with_a_tool_call_reports_its_tokens_and_retries_a_transient_failure(string type, string model)
    {
        await using var anthropic = type == "anthropic" ? await FakeAnthropic.StartAsync() : null;
        await using var ollama = type == "ollama" ? await FakeOllama.StartAsync() : null;
        await using var azure = type == "azure_openai" ? await FakeOpenAi.StartAsync() : null;
        var baseUrl = anthropic?.BaseUrl ?? ollama?.BaseUrl ?? azure!.Root;
        var api = await app.OrgAdminAsync(type);

        // The connection, its model read from the provider itself.
        var provider = await api.PostAsync("/v1/providers", new { name = $"our {type}", provider_type = type, base_url = baseUrl, api_key = "sk-org-secret" });
        provider.Status.ShouldBe(HttpStatusCode.Created);
        var providerId = (string)provider.Object["id"]!;
        var sync = await api.PostAsync($"/v1/providers/{providerId}/sync-models");
        sync.Status.ShouldBe(HttpStatusCode.OK, sync.Text);
        ((string)sync.Object["status"]!).ShouldBe("success");
        ((int)sync.Object["created"]!).ShouldBeGreaterThan(0);
        var listed = (await api.GetAsync($"/v1/providers/{providerId}/models")).Object["data"]!.AsArray();
        var modelId = (string)listed.Single(m => (string)m!["model_id"]! == model)!["id"]!;
        var described = (await api.GetAsync($"/v1/models/{modelId}")).Object;
        ((string)described["provider_id"]!).ShouldBe(providerId);
        ((string)described["provider_type"]!).ShouldBe(type);
        ((string)described["source"]!).ShouldBe("discovered");
        (await api.GetAsync($"/v1/providers/{(string)described["provider_id"]!}")).Status.ShouldBe(HttpStatusCode.OK);

        // A turn with a tool call on it, the session naming the model by name.
        var session = (string)(await api.CreateSessionAsync(new { model_id = model, capabilities = new[] { new { @ref = "current_time" } } }))["id"]!;
        await api.PostMessageAsync(session, "what time is it");
        var events = await api.WaitForTurnsAsync(session);
        ((string)events.Last()["type"]!).ShouldBe("turn.completed", string.Join(", ", events.Select(e => $"{e["type"]} {e["data"]?["error"]}")));
        ((bool)events.Single(e => (string)e["type"]! == "tool.completed")["data"]!["success"]!).ShouldBeTrue();
        var final = (string)events.Last(e => (string)e["type"]! == "output.message.completed")["data"]!["message"]!["content"]![0]!["text"]!;
        final.ShouldStartWith("The tool said {"); // (Ollama's chat client wraps the result with its call id)
        final.ShouldContain("utc");
        events.Count(e => (string)e["type"]! == "output.message.delta").ShouldBeGreaterThan(0);

        // The key went in the provider's own header; the tool result went back in its own shape.
        var requests = (anthropic ?? (FakeProvider?)ollama)?.Requests.Select(r => (r.Key, r.Body)).ToList()
                       ?? azure!.Requests.Select(r => (Key: r.Authorization, r.Body)).ToList();
        requests[0].Key.ShouldBe(type switch { "anthropic" => "sk-org-secret", "azure_openai" => "api-key sk-org-secret", _ => "Bearer sk-org-secret" });
        ((string)requests[0].Body["model"]!).ShouldBe(model);

        // Usage: what the provider reported, per call and summed on the turn; a price only where the deployment gave one.
        var reported = anthropic?.Reported.ToList() ?? ollama?.Reported.ToList()
                       ?? azure!.Reported.Select(r => (Input: r.Prompt - r.Cached, Output: r.Completion, r.Cached)).ToList();
        var generations = events.Where(e => (string)e["type"]! == "llm.generation").Select(e => e["data"]!["metadata"]!).ToList();
        generations.Count.ShouldBe(2);
        generations.ShouldAllBe(g => (string)g["provider"]! == type && (bool)g["success"]!);
        generations.Select(g => (long)g["usage"]!["input_tokens"]!).ShouldBe(reported.Select(r => r.Input));
        generations.Select(g => (long)g["usage"]!["output_tokens"]!).ShouldBe(reported.Select(r => r.Output));
        var turnUsage = events.Last()["data"]!["usage"]!;
        ((long)turnUsage["output_tokens"]!).ShouldBe(reported.Sum(r => r.Output));
        ((long)turnUsage["input_tokens"]!).ShouldBe(reported.Sum(r => r.Input));
        if (type == "anthropic")
        {
            // 3 $/M prompt, 15 $/M answer, 0.3 $/M cached prompt (the test host's MODEL_PRICES).
            var cost = reported.Sum(r => (r.Input * 3.0 + r.Output * 15.0 + r.Cached * 0.3) / 1_000_000);
            ((double)turnUsage["estimated_cost_usd"]!).ShouldBe(cost, 1e-9);
        }
        else
        {
            turnUsage["estimated_cost_usd"].ShouldBeNull(); // no price: tokens without a cost
        }

        // A transient failure (rate limited or overloaded) before anything streamed: tried again, the turn completes.
        await api.PostMessageAsync(session, "a flaky hello");
        events = await api.WaitForTurnsAsync(session, 2);
        ((string)events.Last()["type"]!).ShouldBe("turn.completed");
        var retried = events.Last(e => (string)e["type"]! == "llm.generation")["data"]!["metadata"]!;
        ((int)retried["retry"]!["attempts"]!).ShouldBe(1);
        // The session's usage adds up both turns (and their cost where the model has a price).
        var sessionUsage = (await api.GetAsync($"/v1/sessions/{session}")).Object["usage"]!;
        var allReported = anthropic?.Reported.ToList() ?? ollama?.Reported.ToList()
                          ?? azure!.Reported.Select(r => (Input: r.Prompt - r.Cached, Output: r.Completion, r.Cached)).ToList();
        ((long)sessionUsage["output_tokens"]!).ShouldBe(allReported.Sum(r => r.Output));
        if (type == "anthropic")
            ((double)sessionUsage["estimated_cost_usd"]!).ShouldBe(allReported.Sum(r => (r.Input * 3.0 + r.Output * 15.0 + r.Cached * 0.3) / 1_000_000), 1e-9);
        var errors = anthropic?.Errors ?? ollama?.Errors ?? azure!.Errors;
        errors.ShouldBe([type switch { "anthropic" => 529, "ollama" => 503, _ => 429 }]);

        if (type != "anthropic") return;
        // A model that thinks before it answers: its thinking streams as reason.thinking.* events, before the answer's.
        await api.PostMessageAsync(session, "think first");
        events = await api.WaitForTurnsAsync(session, 3);
        events = events.Skip(events.FindLastIndex(e => (string)e["type"]! == "turn.started")).ToList();
        var types = events.Select(e => (string)e["type"]!).ToList();
        types.IndexOf("reason.thinking.started").ShouldBeGreaterThan(0);
        types.IndexOf("reason.thinking.started").ShouldBeLessThan(types.IndexOf("reason.thinking.completed"));
        types.IndexOf("reason.thinking.completed").ShouldBeLessThan(types.IndexOf("output.message.started"));
        ((string)events.Single(e => (string)e["type"]! == "reason.thinking.completed")["data"]!["thinking"]!).ShouldBe(FakeAnthropic.Thinking);
        ((string)events.Last(e => (string)e["type"]! == "reason.thinking.delta")["data"]!["accumulated"]!).ShouldBe(FakeAnthropic.Thinking);
        ((string)events.Last(e => (string)e["type"]! == "output.message.completed")["data"]!["message"]!["content"]![0]!["text"]!).ShouldBe("Fake says: think first");
    }

    [Theory]
    [InlineData("anthropic")]
    [InlineData("ollama")]
    [InlineData("openai")]
    public async Task each_error_class_of_a_provider_fails_the_turn_with_its_documented_code(string type)
    {
        await using var anthropic = type == "anthropic" ? await FakeAnthropic.StartAsync() : null;
        await using var ollama = type == "ollama" ? await FakeOllama.StartAsync() : null;
        await using var openai = type == "openai" ? await FakeOpenAi.StartAsync() : null;
        var api = await app.OrgAdminAsync(type + "-errors");
        var providerId = (string)(await api.PostAsync("/v1/providers", new
        {
            name = "errors", provider_type = type, base_url = anthropic?.BaseUrl ?? ollama?.BaseUrl ?? openai!.BaseUrl, api_key = "sk-any",
        })).Object["id"]!;
        var added = await api.PostAsync($"/v1/providers/{providerId}/models", new { model_id = "m-1", display_name = "M one" });
        added.Status.ShouldBe(HttpStatusCode.Created, added.Text);
        ((string)added.Object["source"]!).ShouldBe("manual");
        var session = (string)(await api.CreateSessionAsync(new { model_id = (string)added.Object["id"]! }))["id"]!;

        var expected = new (string Say, string Code)[]
        {
            ("fail 401", "provider_misconfigured"), ("fail 404", "model_unavailable"), ("fail toolong", "request_too_large"),
            ("fail 429", "provider_rate_limited"), ("fail 503", "provider_unavailable"),
        };
        if (type == "ollama") expected = expected.Where(e => e.Say != "fail 429").ToArray(); // Ollama has no rate limits
        var turns = 0;
        foreach (var (say, code) in expected)
        {
            await api.PostMessageAsync(session, say);
            var failed = (await api.WaitForTurnsAsync(session, ++turns)).LastTurnEnd();
            ((string)failed["type"]!).ShouldBe("turn.failed", say);
            ((string)failed["data"]!["error_code"]!).ShouldBe(code, say);
            ((string)failed["data"]!["error_fields"]!["provider"]!).ShouldBe(type);
            ((string)failed["data"]!["error"]!).ShouldNotContain("Exception");
        }

        // Transient classes were tried MODEL_RETRY_ATTEMPTS (3) times before the turn failed; the others once.
        var errors = (anthropic?.Errors ?? ollama?.Errors ?? openai!.Errors).ToList();
        errors.Count(s => s == 503).ShouldBe(3);
        errors.Count(s => s == 401).ShouldBe(1);
        if (type != "ollama") errors.Count(s => s == 429).ShouldBe(3);

        // The session still works once the provider answers.
        await api.PostMessageAsync(session, "hello again");
        ((string)(await api.WaitForTurnsAsync(session, ++turns)).Last()["type"]!).ShouldBe("turn.completed");
    }

    [Fact]
    public async Task provider_models_are_managed_per_org_and_deployment_models_are_not_changed_through_the_api()
    {
        await using var fake = await FakeOllama.StartAsync();
        var api = await app.OrgAdminAsync("models");
        var other = await app.OrgAdminAsync("models-other");
        var providerId = (string)(await api.PostAsync("/v1/providers", new { name = "local", provider_type = "ollama", base_url = fake.BaseUrl })).Object["id"]!;
        var created = await api.PostAsync($"/v1/providers/{providerId}/models", new { model_id = "qwen-fake", display_name = "Qwen", is_favorite = true });
        created.Status.ShouldBe(HttpStatusCode.Created);
        var modelId = (string)created.Object["id"]!;
        (await api.PostAsync($"/v1/providers/{providerId}/models", new { model_id = "qwen-fake", display_name = "again" })).Status.ShouldBe(HttpStatusCode.Conflict);
        var refused = await api.PostAsync($"/v1/providers/{providerId}/models", new { display_name = "no name" });
        refused.Status.ShouldBe(HttpStatusCode.BadRequest);
        ((string)refused.Object["code"]!).ShouldBe("invalid_model_id");

        // Listed with the deployment's models; filters by source and favourites; another org sees none of them.
        var mine = (await api.GetAsync("/v1/models?source=manual")).Object["data"]!.AsArray();
        mine.Select(m => (string)m!["id"]!).ShouldBe([modelId]);
        ((string)mine[0]!["provider_name"]!).ShouldBe("local");
        (await api.GetAsync("/v1/models?favorites_only=true")).Object["data"]!.AsArray().Count.ShouldBe(1);
        (await other.GetAsync("/v1/models?source=manual")).Object["data"]!.AsArray().ShouldBeEmpty();
        (await other.GetAsync($"/v1/models/{modelId}")).Status.ShouldBe(HttpStatusCode.NotFound);
        (await other.PostAsync("/v1/sessions", new { model_id = modelId })).Status.ShouldBe(HttpStatusCode.NotFound);

        // Sync adds what the provider lists beside what was added by hand; PATCH and DELETE change only stored models.
        var sync = (await api.PostAsync($"/v1/providers/{providerId}/sync-models")).Object;
        ((int)sync["created"]!).ShouldBe(1);
        (await api.GetAsync($"/v1/providers/{providerId}")).Object["last_synced_at"].ShouldNotBeNull();
        var patched = await api.PatchAsync($"/v1/models/{modelId}", new { display_name = "Qwen (local)", enabled = false });
        patched.Status.ShouldBe(HttpStatusCode.OK);
        ((bool)patched.Object["enabled"]!).ShouldBeFalse();
        var offline = (string)(await api.GetAsync("/v1/models?source=predefined")).Object["data"]!.AsArray()
            .Single(m => (string)m!["model_id"]! == "everruns-offline")!["id"]!;
        var predefined = await api.PatchAsync($"/v1/models/{offline}", new { enabled = false });
        predefined.Status.ShouldBe(HttpStatusCode.Conflict);
        ((string)predefined.Object["code"]!).ShouldBe("model_predefined");

        // A disabled model does not run: the turn says the model is unavailable.
        var session = (string)(await api.CreateSessionAsync(new { model_id = modelId }))["id"]!;
        await api.PostMessageAsync(session, "hello");
        var failed = (await api.WaitForTurnsAsync(session)).Last();
        ((string)failed["data"]!["error_code"]!).ShouldBe("model_unavailable");

        (await api.DeleteAsync($"/v1/models/{modelId}")).Status.ShouldBe(HttpStatusCode.NoContent);
        (await api.GetAsync($"/v1/models/{modelId}")).Status.ShouldBe(HttpStatusCode.NotFound);
        (await api.DeleteAsync($"/v1/providers/{providerId}")).Status.ShouldBe(HttpStatusCode.NoContent);
        (await api.GetAsync("/v1/models?source=discovered")).Object["data"]!.AsArray().ShouldBeEmpty(); // they went with it

        // A provider type without a driver answers not_supported.
        var unknown = (string)(await api.PostAsync("/v1/providers", new { name = "future", provider_type = "gemini" })).Object["id"]!;
        ((string)(await api.PostAsync($"/v1/providers/{unknown}/sync-models")).Object["status"]!).ShouldBe("not_supported");
    }
}
