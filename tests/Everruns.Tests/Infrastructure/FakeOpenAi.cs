using System.Collections.Concurrent;
using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Everruns.Tests.Infrastructure;

/// <summary>
/// A small OpenAI-compatible chat-completions server on a loopback port, scripted for tests: it streams
/// "Fake says: &lt;user text&gt;", calls <c>current_time</c> when asked the time (and offered the tool), reports
/// a tool result it is given, answers 400 to a message saying "break", answers a message saying "hold" only once
/// <see cref="Release"/> is called, and takes <see cref="SlowAnswer"/> over each answer in a conversation whose user
/// said "slowly". A message saying "fail &lt;status&gt;" (401, 404, 429, 503, or "toolong": a context-length 400) gets OpenAI's
/// error body with that status; one saying "flaky" a 429 with <c>retry-after: 0</c> the first time. It answers an Azure OpenAI
/// resource's v1 paths (<c>/openai/v1/...</c>, key in <c>api-key</c>) too, and lists its models.
/// </summary>
public sealed class FakeOpenAi : IAsyncDisposable
{
    private readonly WebApplication _app;

    public static readonly TimeSpan SlowAnswer = TimeSpan.FromSeconds(2.5);

    public ConcurrentQueue<(string Authorization, JsonObject Body)> Requests { get; } = new();

    /// <summary>The usage each answer reported (when the request asked for it, as OpenAI's stream_options.include_usage).</summary>
    public ConcurrentQueue<(long Prompt, long Completion, long Cached)> Reported { get; } = new();
    public string BaseUrl { get; private set; } = "";

    /// <summary>The server's address without <c>/v1</c> (an Azure resource's base URL).</summary>
    public string Root => BaseUrl[..^"/v1".Length];

    /// <summary>Error statuses answered.</summary>
    public ConcurrentQueue<int> Errors { get; } = new();

    private readonly ConcurrentDictionary<string, bool> _flaky = new();

    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>A host's settings for this fake as its OpenAI-compatible server (the first model is the default); add to them at will.</summary>
    public Dictionary<string, string> ServerSettings(string models = "fake-small", string apiKey = "sk-test-key") => new()
    {
        ["OPENAI_BASE_URL"] = BaseUrl, ["OPENAI_API_KEY"] = apiKey, ["OPENAI_MODELS"] = models,
    };

    /// <summary>Lets the answers to messages saying "hold" go.</summary>
    public void Release() => _released.TrySetResult();

    private FakeOpenAi(WebApplication app) => _app = app;

    public static async Task<FakeOpenAi> StartAsync()
    {
        var builder = LoopbackServer.Builder();
        var app = builder.Build();
        var fake = new FakeOpenAi(app);
        app.MapPost("/v1/chat/completions", fake.CompleteAsync);
        app.MapPost("/openai/v1/chat/completions", fake.CompleteAsync);
        var models = () => Results.Json(new JsonObject
        {
            ["object"] = "list",
            ["data"] = new JsonArray(new JsonObject { ["id"] = "fake-small", ["object"] = "model", ["created"] = 1_700_000_000, ["owned_by"] = "fake" },
                new JsonObject { ["id"] = "fake-large", ["object"] = "model", ["created"] = 1_700_000_000, ["owned_by"] = "fake" }),
        });
        app.MapGet("/v1/models", models);
        app.MapGet("/openai/v1/models", models);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        fake.BaseUrl = address.TrimEnd('/') + "/v1";
        return fake;
    }

    private async Task CompleteAsync(HttpContext http)
    {
        var body = (await JsonNode.ParseAsync(http.Request.Body))!.AsObject();
        Requests.Enqueue((http.Request.Headers.TryGetValue("api-key", out var azureKey) ? $"api-key {azureKey}" : http.Request.Headers.Authorization.ToString(), body));
        var messages = body["messages"]!.AsArray();
        var last = messages.Last()!.AsObject();
        var model = (string?)body["model"] ?? "fake";
        var lastText = Text(last);

        if (lastText.Contains("break"))
        {
            http.Response.StatusCode = (int)HttpStatusCode.BadRequest;
            await http.Response.WriteAsJsonAsync(new { error = new { message = "the fake refuses to answer", type = "invalid_request_error" } });
            return;
        }

        if (lastText.StartsWith("fail ", StringComparison.Ordinal) || (lastText.Contains("flaky") && _flaky.TryAdd(Text(messages.First(m => (string?)m!["role"] == "user")!.AsObject()), true)))
        {
            var what = lastText.Contains("flaky") ? "429" : lastText[5..].Trim();
            var (status, type, code, message) = what switch
            {
                "401" => (401, "invalid_request_error", "invalid_api_key", "Incorrect API key provided"),
                "404" => (404, "invalid_request_error", "model_not_found", $"The model '{model}' does not exist"),
                "429" => (429, "requests", "rate_limit_exceeded", "Rate limit reached for requests"),
                "toolong" => (400, "invalid_request_error", "context_length_exceeded", "This model's maximum context length is 128000 tokens"),
                _ => (503, "server_error", "service_unavailable", "The server is overloaded"),
            };
            Errors.Enqueue(status);
            http.Response.StatusCode = status;
            if (status == 429) http.Response.Headers["retry-after"] = "0";
            await http.Response.WriteAsJsonAsync(new JsonObject { ["error"] = new JsonObject { ["message"] = message, ["type"] = type, ["code"] = code } });
            return;
        }

        if (lastText.Contains("hold")) await _released.Task;
        if (messages.Any(m => (string?)m!["role"] == "user" && Text(m.AsObject()).Contains("slowly"))) await Task.Delay(SlowAnswer);
        http.Response.ContentType = "text/event-stream";
        var offersTime = body["tools"] is JsonArray tools && tools.Any(t => (string?)t!["function"]?["name"] == "current_time");
        if ((string?)last["role"] == "user" && lastText.Contains("time") && offersTime)
        {
            await Chunk(http, model, new JsonObject
            {
                ["role"] = "assistant",
                ["tool_calls"] = new JsonArray(new JsonObject
                {
                    ["index"] = 0, ["id"] = "call_fake1", ["type"] = "function",
                    ["function"] = new JsonObject { ["name"] = "current_time", ["arguments"] = "{}" },
                }),
            }, null);
            await Chunk(http, model, new JsonObject(), "tool_calls");
        }
        else
        {
            var answer = (string?)last["role"] == "tool" ? $"The tool said {lastText}" : $"Fake says: {lastText}";
            await Chunk(http, model, new JsonObject { ["role"] = "assistant", ["content"] = "" }, null);
            // "word by word": one word every 150 ms, as a slow model streams (the server's deltas, batched per 100 ms, follow).
            var paced = lastText.Contains("word by word");
            foreach (var piece in paced ? answer.Split(' ').Select((w, i) => i == 0 ? w : " " + w) : answer.Chunk(5).Select(c => new string(c)))
            {
                if (paced) await Task.Delay(150);
                await Chunk(http, model, new JsonObject { ["content"] = piece }, null);
            }
            await Chunk(http, model, new JsonObject(), "stop");
        }

        if (body["stream_options"]?["include_usage"]?.GetValue<bool>() == true)
        {
            // OpenAI's usage chunk: prompt tokens include the cached ones.
            var (prompt, completion, cached) = (40L + 7 * messages.Count, 5L + lastText.Length / 4, 16L);
            Reported.Enqueue((prompt, completion, cached));
            var usage = new JsonObject
            {
                ["id"] = "chatcmpl-fake", ["object"] = "chat.completion.chunk", ["created"] = 1_700_000_000, ["model"] = model, ["choices"] = new JsonArray(),
                ["usage"] = new JsonObject
                {
                    ["prompt_tokens"] = prompt, ["completion_tokens"] = completion, ["total_tokens"] = prompt + completion,
                    ["prompt_tokens_details"] = new JsonObject { ["cached_tokens"] = cached },
                },
            };
            await http.Response.WriteAsync($"data: {usage.ToJsonString()}\n\n");
        }

        await http.Response.WriteAsync("data: [DONE]\n\n");
    }

    private static string Text(JsonObject message) => message["content"] switch
    {
        JsonValue value => (string)value!,
        JsonArray parts => string.Concat(parts.Select(p => (string?)p!["text"])),
        _ => "",
    };

    private static async Task Chunk(HttpContext http, string model, JsonObject delta, string? finish)
    {
        var chunk = new JsonObject
        {
            ["id"] = "chatcmpl-fake", ["object"] = "chat.completion.chunk", ["created"] = 1_700_000_000, ["model"] = model,
            ["choices"] = new JsonArray(new JsonObject { ["index"] = 0, ["delta"] = delta, ["finish_reason"] = finish }),
        };
        await http.Response.WriteAsync($"data: {chunk.ToJsonString()}\n\n");
        await http.Response.Body.FlushAsync();
    }

    public async ValueTask DisposeAsync()
    {
        Release();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
