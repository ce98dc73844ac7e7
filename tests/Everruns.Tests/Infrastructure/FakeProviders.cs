using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Everruns.Tests.Infrastructure;

/// <summary>
/// A web server for a test's fake on a loopback port. Its ASP.NET Core meters get names of their own: the Everruns host in the
/// same process exports the meters named <c>Microsoft.AspNetCore.*</c> of every server in it, and a fake's, completed when
/// the fake stops, would take the host's request metrics down with them.
/// </summary>
public static class LoopbackServer
{
    public static WebApplicationBuilder Builder()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton<System.Diagnostics.Metrics.IMeterFactory, PrivateMeters>();
        return builder;
    }

    /// <summary>Meters named <c>fake.&lt;name&gt;</c>: no exporter of the real names sees them.</summary>
    public sealed class PrivateMeters : System.Diagnostics.Metrics.IMeterFactory
    {
        private readonly ConcurrentBag<System.Diagnostics.Metrics.Meter> _meters = new();

        public System.Diagnostics.Metrics.Meter Create(System.Diagnostics.Metrics.MeterOptions options)
        {
            var meter = new System.Diagnostics.Metrics.Meter("fake." + options.Name, options.Version);
            _meters.Add(meter);
            return meter;
        }

        public void Dispose()
        {
            foreach (var meter in _meters) meter.Dispose();
        }
    }
}

/// <summary>
/// What the fake providers (Anthropic, Ollama) answer, the same for each wire protocol: a user message saying
/// "fail &lt;what&gt;" gets that provider's error (401, 404, 429, 503, 529 or "toolong", its context-length refusal); one saying
/// "flaky" fails once with the provider's overloaded/unavailable status, then answers; asked the time with
/// <c>current_time</c> offered, a call to it; given a tool result, "The tool said &lt;result&gt;"; else "Fake says: &lt;text&gt;".
/// </summary>
public abstract class FakeProvider : IAsyncDisposable
{
    private WebApplication _app = null!;
    private readonly ConcurrentDictionary<string, int> _flaky = new();

    public string BaseUrl { get; private set; } = "";

    /// <summary>Each request: the header carrying its key, the path and the body.</summary>
    public ConcurrentQueue<(string Key, string Path, JsonObject Body)> Requests { get; } = new();

    /// <summary>The tokens each answer reported: prompt (not cached), answer, cached.</summary>
    public ConcurrentQueue<(long Input, long Output, long Cached)> Reported { get; } = new();

    /// <summary>Error statuses answered (including the flaky first tries).</summary>
    public ConcurrentQueue<int> Errors { get; } = new();

    protected abstract void Map(WebApplication app);

    protected static async Task<T> StartAsync<T>(T fake) where T : FakeProvider
    {
        var builder = LoopbackServer.Builder();
        fake._app = builder.Build();
        fake.Map(fake._app);
        await fake._app.StartAsync();
        fake.BaseUrl = fake._app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/');
        return fake;
    }

    public sealed record Reply(int? Status, string? ToolCall, string Text);

    /// <summary>What to answer to <paramref name="lastText"/> (the last message's text; <paramref name="isToolResult"/> when it is a tool's result).</summary>
    protected Reply Decide(string lastText, bool isToolResult, bool offersTime, string conversationKey, int overloaded)
    {
        if (isToolResult) return new Reply(null, null, $"The tool said {lastText}");
        if (lastText.StartsWith("fail ", StringComparison.Ordinal))
        {
            var what = lastText[5..].Trim();
            return new Reply(what == "toolong" ? 400 : int.Parse(what), null, "");
        }

        if (lastText.Contains("flaky") && _flaky.AddOrUpdate(conversationKey, 1, (_, n) => n + 1) == 1) return new Reply(overloaded, null, "");
        if (lastText.Contains("time") && offersTime) return new Reply(null, "current_time", "");
        return new Reply(null, null, $"Fake says: {lastText}");
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>Anthropic's Messages API: <c>POST /v1/messages</c> streaming its named SSE events, <c>GET /v1/models</c>, its error bodies.</summary>
public sealed class FakeAnthropic : FakeProvider
{
    /// <summary>What it thinks (in a thinking block before its answer) when a message says "think".</summary>
    public const string Thinking = "The user wants me to think. I will think briefly, then answer.";

    public static Task<FakeAnthropic> StartAsync() => StartAsync(new FakeAnthropic());

    protected override void Map(WebApplication app)
    {
        app.MapPost("/v1/messages", MessagesAsync);
        app.MapGet("/v1/models", () => Results.Json(new JsonObject
        {
            ["data"] = new JsonArray(
                new JsonObject { ["type"] = "model", ["id"] = "claude-fake-large", ["display_name"] = "Claude Fake Large", ["created_at"] = "2026-01-01T00:00:00Z" },
                new JsonObject { ["type"] = "model", ["id"] = "claude-fake-small", ["display_name"] = "Claude Fake Small", ["created_at"] = "2026-01-01T00:00:00Z" }),
            ["has_more"] = false, ["first_id"] = "claude-fake-large", ["last_id"] = "claude-fake-small",
        }));
    }

    private async Task MessagesAsync(HttpContext http)
    {
        var body = (await JsonNode.ParseAsync(http.Request.Body))!.AsObject();
        // Anthropic takes the key in x-api-key, or (as its .NET SDK sends it) as a bearer token.
        var key = http.Request.Headers.TryGetValue("x-api-key", out var apiKey) ? apiKey.ToString() : http.Request.Headers.Authorization.ToString().Replace("Bearer ", "");
        Requests.Enqueue((key, http.Request.Path, body));
        var messages = body["messages"]!.AsArray();
        var last = messages.Last()!.AsObject();
        var toolResult = last["content"] is JsonArray parts ? parts.FirstOrDefault(p => (string?)p!["type"] == "tool_result") : null;
        var lastText = toolResult is not null ? ToolResultText(toolResult) : Text(last);
        var offersTime = body["tools"] is JsonArray tools && tools.Any(t => (string?)t!["name"] == "current_time");
        var reply = Decide(lastText, toolResult is not null, offersTime, Text(messages.First()!.AsObject()), 529);
        var model = (string?)body["model"] ?? "claude";

        if (reply.Status is { } status)
        {
            Errors.Enqueue(status);
            var (type, message) = status switch
            {
                401 => ("authentication_error", "invalid x-api-key"),
                404 => ("not_found_error", $"model: {model}"),
                429 => ("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit"),
                529 => ("overloaded_error", "Overloaded"),
                400 => ("invalid_request_error", "prompt is too long: 210000 tokens > 200000 maximum"),
                _ => ("api_error", "Internal server error"),
            };
            http.Response.StatusCode = status;
            await http.Response.WriteAsJsonAsync(new JsonObject { ["type"] = "error", ["error"] = new JsonObject { ["type"] = type, ["message"] = message } });
            return;
        }

        var (input, cached) = (30L + 9 * messages.Count, 12L);
        http.Response.ContentType = "text/event-stream";
        await Event(http, "message_start", new JsonObject
        {
            ["type"] = "message_start",
            ["message"] = new JsonObject
            {
                ["id"] = "msg_fake", ["type"] = "message", ["role"] = "assistant", ["model"] = model, ["content"] = new JsonArray(),
                ["stop_reason"] = null, ["stop_sequence"] = null,
                ["usage"] = new JsonObject { ["input_tokens"] = input, ["cache_read_input_tokens"] = cached, ["cache_creation_input_tokens"] = 0, ["output_tokens"] = 1 },
            },
        });
        long output;
        string stop;
        if (reply.ToolCall is { } tool)
        {
            await Event(http, "content_block_start", new JsonObject
            {
                ["type"] = "content_block_start", ["index"] = 0,
                ["content_block"] = new JsonObject { ["type"] = "tool_use", ["id"] = "toolu_fake1", ["name"] = tool, ["input"] = new JsonObject() },
            });
            await Event(http, "content_block_delta", new JsonObject
            {
                ["type"] = "content_block_delta", ["index"] = 0, ["delta"] = new JsonObject { ["type"] = "input_json_delta", ["partial_json"] = "{}" },
            });
            (output, stop) = (9, "tool_use");
        }
        else
        {
            var index = 0;
            if (lastText.Contains("think"))
            {
                // A thinking block first, as Claude streams it, signature and all.
                await Event(http, "content_block_start", new JsonObject
                {
                    ["type"] = "content_block_start", ["index"] = 0, ["content_block"] = new JsonObject { ["type"] = "thinking", ["thinking"] = "", ["signature"] = "" },
                });
                foreach (var piece in Thinking.Chunk(7))
                    await Event(http, "content_block_delta", new JsonObject
                    {
                        ["type"] = "content_block_delta", ["index"] = 0, ["delta"] = new JsonObject { ["type"] = "thinking_delta", ["thinking"] = new string(piece) },
                    });
                await Event(http, "content_block_delta", new JsonObject
                {
                    ["type"] = "content_block_delta", ["index"] = 0, ["delta"] = new JsonObject { ["type"] = "signature_delta", ["signature"] = "c2lnbmF0dXJl" },
                });
                await Event(http, "content_block_stop", new JsonObject { ["type"] = "content_block_stop", ["index"] = 0 });
                index = 1;
            }

            await Event(http, "content_block_start", new JsonObject
            {
                ["type"] = "content_block_start", ["index"] = index, ["content_block"] = new JsonObject { ["type"] = "text", ["text"] = "" },
            });
            foreach (var piece in reply.Text.Chunk(5))
                await Event(http, "content_block_delta", new JsonObject
                {
                    ["type"] = "content_block_delta", ["index"] = index, ["delta"] = new JsonObject { ["type"] = "text_delta", ["text"] = new string(piece) },
                });
            (output, stop) = (4 + reply.Text.Length / 4, "end_turn");
        }

        await Event(http, "content_block_stop", new JsonObject { ["type"] = "content_block_stop", ["index"] = reply.ToolCall is null && lastText.Contains("think") ? 1 : 0 });
        await Event(http, "message_delta", new JsonObject
        {
            ["type"] = "message_delta", ["delta"] = new JsonObject { ["stop_reason"] = stop, ["stop_sequence"] = null },
            ["usage"] = new JsonObject { ["output_tokens"] = output },
        });
        await Event(http, "message_stop", new JsonObject { ["type"] = "message_stop" });
        Reported.Enqueue((input, output, cached));
    }

    private static async Task Event(HttpContext http, string name, JsonObject data)
    {
        await http.Response.WriteAsync($"event: {name}\ndata: {data.ToJsonString()}\n\n");
        await http.Response.Body.FlushAsync();
    }

    private static string Text(JsonObject message) => message["content"] switch
    {
        JsonValue value => (string)value!,
        JsonArray parts => string.Concat(parts.Where(p => (string?)p!["type"] == "text").Select(p => (string?)p!["text"])),
        _ => "",
    };

    private static string ToolResultText(JsonNode result) => result["content"] switch
    {
        JsonValue value => (string)value!,
        JsonArray parts => string.Concat(parts.Select(p => (string?)p!["text"])),
        _ => "",
    };
}

/// <summary>Ollama's API: <c>POST /api/chat</c> streaming NDJSON, <c>GET /api/tags</c>, its <c>{"error": ...}</c> bodies.</summary>
public sealed class FakeOllama : FakeProvider
{
    public static Task<FakeOllama> StartAsync() => StartAsync(new FakeOllama());

    protected override void Map(WebApplication app)
    {
        app.MapPost("/api/chat", ChatAsync);
        app.MapGet("/api/tags", () => Results.Json(new JsonObject
        {
            ["models"] = new JsonArray(new JsonObject
            {
                ["name"] = "llama-fake:latest", ["model"] = "llama-fake:latest", ["modified_at"] = "2026-01-01T00:00:00Z", ["size"] = 1000,
                ["digest"] = "abc123", ["details"] = new JsonObject { ["format"] = "gguf", ["family"] = "llama", ["parameter_size"] = "3B", ["quantization_level"] = "Q4" },
            }),
        }));
    }

    private async Task ChatAsync(HttpContext http)
    {
        var body = (await JsonNode.ParseAsync(http.Request.Body))!.AsObject();
        Requests.Enqueue((http.Request.Headers.Authorization.ToString(), http.Request.Path, body));
        var messages = body["messages"]!.AsArray();
        var last = messages.Last()!.AsObject();
        var lastText = (string?)last["content"] ?? "";
        var offersTime = body["tools"] is JsonArray tools && tools.Any(t => (string?)t!["function"]?["name"] == "current_time");
        var reply = Decide(lastText, (string?)last["role"] == "tool", offersTime, (string?)messages.First(m => (string?)m!["role"] == "user")!["content"] ?? "", 503);
        var model = (string?)body["model"] ?? "llama";

        if (reply.Status is { } status)
        {
            Errors.Enqueue(status);
            http.Response.StatusCode = status;
            await http.Response.WriteAsJsonAsync(new JsonObject
            {
                ["error"] = status switch
                {
                    404 => $"model \"{model}\" not found, try pulling it first",
                    400 => "the input length exceeds the context length",
                    401 => "unauthorized",
                    _ => "server busy, please try again",
                },
            });
            return;
        }

        http.Response.ContentType = "application/x-ndjson";
        if (reply.ToolCall is { } tool)
        {
            await Line(http, new JsonObject
            {
                ["model"] = model, ["created_at"] = "2026-01-01T00:00:00Z", ["done"] = false,
                ["message"] = new JsonObject
                {
                    ["role"] = "assistant", ["content"] = "",
                    ["tool_calls"] = new JsonArray(new JsonObject { ["function"] = new JsonObject { ["name"] = tool, ["arguments"] = new JsonObject() } }),
                },
            });
        }
        else
        {
            foreach (var piece in reply.Text.Chunk(5))
                await Line(http, new JsonObject
                {
                    ["model"] = model, ["created_at"] = "2026-01-01T00:00:00Z", ["done"] = false,
                    ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = new string(piece) },
                });
        }

        var (input, output) = (20L + 6 * messages.Count, 3L + reply.Text.Length / 4);
        await Line(http, new JsonObject
        {
            ["model"] = model, ["created_at"] = "2026-01-01T00:00:00Z", ["done"] = true, ["done_reason"] = "stop",
            ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = "" },
            ["total_duration"] = 1000, ["prompt_eval_count"] = input, ["eval_count"] = output,
        });
        Reported.Enqueue((input, output, 0));
    }

    private static async Task Line(HttpContext http, JsonObject line)
    {
        await http.Response.WriteAsync(line.ToJsonString() + "\n");
        await http.Response.Body.FlushAsync();
    }
}
