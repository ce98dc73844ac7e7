using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace Everruns.Tests.Infrastructure;

/// <summary>Raw JSON over HTTP, as any client of the public API sends it (snake_case bodies, no server types).</summary>
public sealed class ApiClient
{
    /// <summary>A client of <paramref name="http"/>; unless it already sends a token, it sends <paramref name="token"/> (the test admin's by default; null: none).</summary>
    public ApiClient(HttpClient http, string? token = TestAuth.AdminToken)
    {
        if (!http.DefaultRequestHeaders.Contains("Authorization") && token is not null) http.As(token);
        Http = http;
    }

    public HttpClient Http { get; }

    public Task<ApiResponse> GetAsync(string url) => SendAsync(HttpMethod.Get, url, null);
    public Task<ApiResponse> DeleteAsync(string url) => SendAsync(HttpMethod.Delete, url, null);
    public Task<ApiResponse> PostAsync(string url, object? body = null) => SendAsync(HttpMethod.Post, url, body);
    public Task<ApiResponse> PatchAsync(string url, object? body) => SendAsync(HttpMethod.Patch, url, body);
    public Task<ApiResponse> PutAsync(string url, object? body) => SendAsync(HttpMethod.Put, url, body);

    /// <summary>A POST carrying an <c>Idempotency-Key</c>, as a client that retries safely sends it.</summary>
    public Task<ApiResponse> PostAsync(string url, object? body, string idempotencyKey) =>
        SendAsync(HttpMethod.Post, url, body, new Dictionary<string, string> { ["Idempotency-Key"] = idempotencyKey });

    /// <summary><paramref name="body"/>: a JsonNode, a raw JSON string, or an anonymous object (serialized as is).</summary>
    public async Task<ApiResponse> SendAsync(HttpMethod method, string url, object? body, IDictionary<string, string>? headers = null)
    {
        using var request = new HttpRequestMessage(method, url);
        foreach (var (name, value) in headers ?? new Dictionary<string, string>()) request.Headers.TryAddWithoutValidation(name, value);
        if (body is not null)
        {
            var json = body switch
            {
                string raw => raw,
                JsonNode node => node.ToJsonString(),
                _ => System.Text.Json.JsonSerializer.Serialize(body),
            };
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        using var response = await Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return new ApiResponse(response.StatusCode, text, response.Headers, response.Content.Headers.ContentType?.MediaType);
    }

    public async Task<JsonObject> CreateAgentAsync(string? name = null, string systemPrompt = "You are helpful.", object? capabilities = null)
    {
        var response = await PostAsync("/v1/agents", new
        {
            name = name ?? Names.Unique("agent"),
            system_prompt = systemPrompt,
            capabilities = capabilities ?? Array.Empty<object>(),
        });
        response.Status.ShouldBe(HttpStatusCode.Created, response.Text);
        return response.Object;
    }

    public async Task<JsonObject> CreateSessionAsync(object? body = null)
    {
        var response = await PostAsync("/v1/sessions", body ?? new { });
        response.Status.ShouldBe(HttpStatusCode.Created, response.Text);
        return response.Object;
    }

    public async Task<JsonObject> PostMessageAsync(string sessionId, string text)
    {
        var response = await PostAsync($"/v1/sessions/{sessionId}/messages",
            new { message = new { role = "user", content = new[] { new { type = "text", text } } } });
        response.Status.ShouldBe(HttpStatusCode.Created, response.Text);
        return response.Object;
    }

    /// <summary>Every event of a session, oldest first (the unpaged list).</summary>
    public async Task<List<JsonObject>> EventsAsync(string sessionId, string query = "")
    {
        var response = await GetAsync($"/v1/sessions/{sessionId}/events{query}");
        response.Status.ShouldBe(HttpStatusCode.OK, response.Text);
        return response.Object["data"]!.AsArray().Select(e => e!.AsObject()).ToList();
    }

    /// <summary>Polls the event list until a terminal turn event shows up for the given count of turns.</summary>
    /// <summary>A counter of the server's /metrics (Prometheus text), 0 while it has never moved.</summary>
    public async Task<long> CounterAsync(string name)
    {
        var metrics = await GetAsync("/metrics");
        var line = metrics.Text.Split('\n').FirstOrDefault(l => l.StartsWith(name + " ") || l.StartsWith(name + "{"));
        return line is null ? 0 : (long)double.Parse(line.Split(' ')[^1], System.Globalization.CultureInfo.InvariantCulture);
    }

    public async Task<List<JsonObject>> WaitForTurnsAsync(string sessionId, int turns = 1, TimeSpan? within = null)
    {
        var deadline = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            var events = await EventsAsync(sessionId);
            if (events.Count(e => (string?)e["type"] is "turn.completed" or "turn.failed" or "turn.cancelled") >= turns)
                return events;
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"{turns} turn(s) did not finish; events: {string.Join(", ", events.Select(e => e["type"]))}");
            await Task.Delay(100);
        }
    }
}

public sealed record ApiResponse(HttpStatusCode Status, string Text, HttpResponseHeaders Headers, string? MediaType)
{
    public JsonObject Object => JsonNode.Parse(Text)!.AsObject();

    /// <summary>A body that is a JSON array (the budget lists, as the SDKs read them).</summary>
    public JsonArray Array => JsonNode.Parse(Text)!.AsArray();

    /// <summary>The problem-details <c>code</c> of an error response.</summary>
    public string? Code => MediaType == "application/problem+json" ? (string?)Object["code"] : null;

    public void ShouldBeProblem(HttpStatusCode status, string code)
    {
        Status.ShouldBe(status, Text);
        MediaType.ShouldBe("application/problem+json", Text);
        Object["status"]!.GetValue<int>().ShouldBe((int)status);
        Code.ShouldBe(code, Text);
    }
}

public static class Names
{
    public static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 13)];
}
