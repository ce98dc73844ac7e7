using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Everruns.Tests.Infrastructure;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Everruns.Tests.Api;

/// <summary>
/// The served OpenAPI document describes every route this server answers, with its request and response schemas, and
/// says the truth: real responses have the keys and types their schema declares.
/// </summary>
[Collection(AppCollection.Name)]
public sealed partial class OpenApiTests(AppFixture app)
{
    private readonly ApiClient _api = app.Api;

    private async Task<JsonObject> DocumentAsync()
    {
        // Public, like the reference page over it.
        using var anonymous = app.Host.Server.CreateClient();
        using var response = await anonymous.GetAsync("/v1/openapi.json");
        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        return JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
    }

    [Fact]
    public async Task every_route_is_described_with_its_request_response_and_problem_schemas()
    {
        var document = await DocumentAsync();
        ((string)document["openapi"]!).ShouldStartWith("3.1");
        var paths = document["paths"]!.AsObject();
        var schemas = document["components"]!["schemas"]!.AsObject();

        var routes = app.Host.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText!.StartsWith("/v1/", StringComparison.Ordinal) && e.RoutePattern.RawText != "/v1/openapi.json")
            .SelectMany(e => e.Metadata.GetMetadata<IHttpMethodMetadata>()!.HttpMethods.Select(m => (Endpoint: e, Method: m.ToLowerInvariant())))
            .ToList();
        routes.Count.ShouldBeGreaterThan(40);

        var missing = new List<string>();
        foreach (var (endpoint, method) in routes)
        {
            var route = $"{method.ToUpperInvariant()} {endpoint.RoutePattern.RawText}";
            // The document writes a catch-all {**path} as {path}, and a group's own route without its trailing slash.
            var documented = CatchAll().Replace(endpoint.RoutePattern.RawText!, "{$1}").TrimEnd('/');
            if (paths[documented]?[method] is not JsonObject operation)
            {
                missing.Add($"{route}: not in the document");
                continue;
            }

            var responses = operation["responses"]!.AsObject();
            var success = responses.Where(r => r.Key.StartsWith('2')).ToList();
            if (success.Count == 0) missing.Add($"{route}: no success response");
            foreach (var (status, response) in success)
            {
                if (status == "204") continue;
                var content = response!["content"]?.AsObject();
                if (content is null || content.Count == 0) missing.Add($"{route}: {status} without content");
                else if (content.Any(c => !Described(c.Value!["schema"], schemas))) missing.Add($"{route}: {status} without a schema");
            }

            if (responses["4XX"]?["content"]?["application/problem+json"]?["schema"]?["$ref"]?.ToString() != "#/components/schemas/Problem")
                missing.Add($"{route}: no problem response");
            var readsBody = endpoint.Metadata.GetMetadata<IAcceptsMetadata>() is { RequestType: not null };
            if (readsBody && !Described(operation["requestBody"]?["content"]?["application/json"]?["schema"], schemas))
                missing.Add($"{route}: its request body has no schema");
        }

        missing.ShouldBeEmpty();

        // snake_case throughout, as the API writes and reads.
        var names = schemas.SelectMany(s => s.Value!["properties"]?.AsObject().Select(p => $"{s.Key}.{p.Key}") ?? []).ToList();
        names.ShouldNotBeEmpty();
        // (mcpServers is the public contract's own spelling.)
        names.Where(n => !SnakeCase().IsMatch(n.Split('.')[1]) && n.Split('.')[1] != "mcpServers").ShouldBeEmpty();
        schemas.Select(s => s.Key).ShouldNotContain("IResult");
    }

    [Fact]
    public async Task the_reference_page_is_served_over_the_document()
    {
        using var anonymous = app.Host.Server.CreateClient();
        using var response = await anonymous.GetAsync("/docs/");
        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        var html = await response.Content.ReadAsStringAsync();
        html.ShouldContain("<title>Everruns API</title>");
        // The page loads the document from the site's root (its script resolves the source against the base path).
        html.ShouldContain("\"url\":\"v1/openapi.json\"");
        using var script = await anonymous.GetAsync("/docs/scalar.js");
        script.StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task real_responses_have_the_keys_and_types_their_schemas_declare()
    {
        var document = await DocumentAsync();
        var agent = await _api.CreateAgentAsync(Names.Unique("openapi"));
        var sessionId = (string)(await _api.CreateSessionAsync(new { agent_id = agent["id"] }))["id"]!;
        await _api.PostMessageAsync(sessionId, "describe yourself");
        await _api.WaitForTurnsAsync(sessionId);

        var calls = new (string Method, string Template, string Url)[]
        {
            ("get", "/v1/agents", "/v1/agents?limit=1"),
            ("get", "/v1/agents/{id}", $"/v1/agents/{agent["id"]}"),
            ("get", "/v1/sessions", "/v1/sessions?limit=2"),
            ("get", "/v1/sessions/{id}", $"/v1/sessions/{sessionId}"),
            ("get", "/v1/sessions/{id}/events", $"/v1/sessions/{sessionId}/events"),
            ("get", "/v1/sessions/{id}/messages", $"/v1/sessions/{sessionId}/messages"),
            ("post", "/v1/sessions/{id}/cancel", $"/v1/sessions/{sessionId}/cancel"),
            ("get", "/v1/models", "/v1/models"),
            ("get", "/v1/capabilities", "/v1/capabilities"),
            ("get", "/v1/harnesses", "/v1/harnesses"),
            ("get", "/v1/harnesses/{id}", "/v1/harnesses/generic"),
            ("get", "/v1/orgs", "/v1/orgs"),
            ("get", "/v1/providers", "/v1/providers"),
            ("get", "/v1/auth/personal-access-tokens", "/v1/auth/personal-access-tokens"),
            ("get", "/v1/durable/workers", "/v1/durable/workers"),
            ("get", "/v1/durable/metrics/timeseries", "/v1/durable/metrics/timeseries"),
            ("get", "/v1/durable/dlq", "/v1/durable/dlq"),
            ("get", "/v1/audit-log", "/v1/audit-log?limit=5"),
            ("get", "/v1/sessions/{id}", "/v1/sessions/sess_00000000000000000000000000000000"), // a problem
        };

        var violations = new List<string>();
        foreach (var (method, template, url) in calls)
        {
            var response = method == "get" ? await _api.GetAsync(url) : await _api.PostAsync(url);
            var status = ((int)response.Status).ToString(System.Globalization.CultureInfo.InvariantCulture);
            var responses = document["paths"]![template]![method]!["responses"]!;
            var declared = responses[status] ?? responses[$"{status[0]}XX"];
            declared.ShouldNotBeNull($"{method} {url} answered {status}, which its operation does not declare");
            var schema = declared["content"]![response.MediaType!]?["schema"];
            schema.ShouldNotBeNull($"{method} {url}: no schema for {response.MediaType}");
            Check(JsonNode.Parse(response.Text), schema, document, $"{method} {url} $", violations);
        }

        violations.ShouldBeEmpty();
    }

    /// <summary>A schema that says something: a reference to a component with properties, a map, a string, a list of such.</summary>
    private static bool Described(JsonNode? schema, JsonObject schemas)
    {
        if (schema is null) return false;
        if (schema["$ref"]?.ToString() is { } reference)
            return schemas[reference.Split('/')[^1]] is { } target && Described(target, schemas);
        if (schema["properties"] is JsonObject { Count: > 0 } || schema["additionalProperties"] is not null) return true;
        if (schema["type"]?.ToString() == "string") return true;
        return schema["type"]?.ToString() == "array" && Described(schema["items"], schemas);
    }

    /// <summary>The value against the schema: its JSON type, the required keys, and no key the schema does not declare.</summary>
    private static void Check(JsonNode? value, JsonNode schema, JsonObject document, string at, List<string> violations)
    {
        if (schema["$ref"]?.ToString() is { } reference)
        {
            Check(value, document["components"]!["schemas"]![reference.Split('/')[^1]]!, document, at, violations);
            return;
        }

        if (schema["oneOf"] is JsonArray oneOf)
        {
            var attempts = oneOf.Select(option =>
            {
                var found = new List<string>();
                Check(value, option!, document, at, found);
                return found;
            }).ToList();
            if (attempts.All(a => a.Count > 0)) violations.AddRange(attempts.OrderBy(a => a.Count).First());
            return;
        }

        var types = schema["type"] switch
        {
            JsonArray many => many.Select(t => t!.ToString()).ToList(),
            JsonValue one => [one.ToString()],
            _ => [],
        };
        var actual = value switch
        {
            null => "null",
            JsonObject => "object",
            JsonArray => "array",
            JsonValue v when v.GetValueKind() == System.Text.Json.JsonValueKind.String => "string",
            JsonValue v when v.GetValueKind() is System.Text.Json.JsonValueKind.True or System.Text.Json.JsonValueKind.False => "boolean",
            JsonValue v when v.ToJsonString().Contains('.') || v.ToJsonString().Contains('e') => "number",
            _ => "integer",
        };
        if (types.Count > 0 && !types.Contains(actual) && !(actual == "integer" && types.Contains("number")))
        {
            violations.Add($"{at}: {actual} where the schema says {string.Join("|", types)}");
            return;
        }

        switch (value)
        {
            case JsonObject obj:
                var properties = schema["properties"]?.AsObject();
                foreach (var required in schema["required"]?.AsArray().Select(r => r!.ToString()) ?? [])
                    if (!obj.ContainsKey(required)) violations.Add($"{at}: required '{required}' is missing");
                foreach (var (key, item) in obj)
                {
                    // JSON Schema's rule: a key the properties do not name is checked against additionalProperties,
                    // refused when that is false, allowed when it is absent (a page's alias of its data).
                    if (properties?[key] is { } property) Check(item, property, document, $"{at}.{key}", violations);
                    else if (schema["additionalProperties"] is JsonObject extra) Check(item, extra, document, $"{at}.{key}", violations);
                    else if (schema["additionalProperties"] is JsonValue allowed && !allowed.GetValue<bool>())
                        violations.Add($"{at}: '{key}' is not declared");
                }

                break;
            case JsonArray array when schema["items"] is { } items:
                for (var i = 0; i < array.Count; i++) Check(array[i], items, document, $"{at}[{i}]", violations);
                break;
        }
    }

    [GeneratedRegex(@"\{\*\*?([a-z_]+)\}")]
    private static partial Regex CatchAll();

    [GeneratedRegex("^[a-z][a-z0-9_]*$")]
    private static partial Regex SnakeCase();
}
