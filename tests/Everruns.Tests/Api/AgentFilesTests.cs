using System.Net;
using System.Text;
using Everruns.Tests.Infrastructure;

namespace Everruns.Tests.Api;

[Collection(AppCollection.Name)]
public sealed class AgentFilesTests(AppFixture app)
{
    private readonly ApiClient _api = app.Api;

    private async Task<ApiResponse> ImportAsync(string text, string query = "")
    {
        using var content = new StringContent(text, Encoding.UTF8, "text/plain");
        using var response = await _api.Http.PostAsync("/v1/agents/import" + query, content);
        return new ApiResponse(response.StatusCode, await response.Content.ReadAsStringAsync(), response.Headers,
            response.Content.Headers.ContentType?.MediaType);
    }

    private async Task<(string Text, string? MediaType, string? Disposition)> ExportAsync(string id)
    {
        using var response = await _api.Http.GetAsync($"/v1/agents/{id}/export");
        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        return (await response.Content.ReadAsStringAsync(), response.Content.Headers.ContentType?.MediaType,
            response.Content.Headers.ContentDisposition?.ToString());
    }

    [Fact]
    public async Task an_agent_exports_as_markdown_with_front_matter_and_export_import_export_is_byte_identical()
    {
        var name = Names.Unique("markdown");
        var prompt = "You are *careful*.\n\n---\nA line of dashes above is part of the prompt.\nkey: \"value\" # not YAML\n  indented\n";
        var created = await _api.PostAsync("/v1/agents", new
        {
            name, display_name = "Markdown \"quoted\" agent", description = "Line one\nline two", system_prompt = prompt,
            tags = new[] { "alpha", "beta: gamma" }, max_iterations = 12, parallel_tool_calls = false,
            capabilities = new object[] { new { @ref = "session_storage" }, new { @ref = "current_time", config = new { timezone = "Europe/Paris", offsets = new object[] { 1, 2.5, true, "x" } } } },
            initial_files = new[] { new { path = "/notes/a.md", content = "# A\n\nwith \"quotes\" and a tab\t", is_readonly = true } },
            tools = new[] { new { type = "client_side", name = "pick_color", description = "Asks the user", parameters = new { type = "object", properties = new { hue = new { type = "number", minimum = 0.5 } } } } },
        });
        created.Status.ShouldBe(HttpStatusCode.Created, created.Text);
        var id = (string)created.Object["id"]!;

        var (first, mediaType, disposition) = await ExportAsync(id);
        mediaType.ShouldBe("text/markdown");
        disposition!.ShouldContain($"{name}.md");
        first.ShouldStartWith($"---\nid: \"{id}\"\nname: \"{name}\"\n");
        first.ShouldEndWith("\n---\n" + prompt);

        var imported = await ImportAsync(first);
        imported.Status.ShouldBe(HttpStatusCode.OK, imported.Text); // the file's id: the same agent, updated
        ((string)imported.Object["id"]!).ShouldBe(id);
        ((string)imported.Object["system_prompt"]!).ShouldBe(prompt);
        var (second, _, _) = await ExportAsync(id);
        second.ShouldBe(first);
        Encoding.UTF8.GetBytes(second).ShouldBe(Encoding.UTF8.GetBytes(first));

        // Nothing changed: no new version.
        (await _api.GetAsync($"/v1/agents/{id}/versions")).Array.Count.ShouldBe(1);

        // Without its id, the file is a new agent; its name must be free (409), so renamed it imports.
        (await ImportAsync(first.Replace($"id: \"{id}\"\n", ""))).ShouldBeProblem(HttpStatusCode.Conflict, "agent_name_taken");
        var copy = await ImportAsync(first.Replace($"id: \"{id}\"\n", "").Replace($"name: \"{name}\"", $"name: \"{name}-2\""));
        copy.Status.ShouldBe(HttpStatusCode.Created, copy.Text);
        ((string)copy.Object["system_prompt"]!).ShouldBe(prompt);
        copy.Object["tools"]!.AsArray().Single()!["parameters"]!["properties"]!["hue"]!["minimum"]!.GetValue<double>().ShouldBe(0.5);
        ((string)(await _api.GetAsync($"/v1/agents/{copy.Object["id"]}/versions")).Array[0]!["change_kind"]!).ShouldBe("import");
    }

    [Fact]
    public async Task a_malformed_file_is_refused_with_the_line_at_fault_and_nothing_is_written()
    {
        var name = Names.Unique("broken");
        async Task ShouldPointAt(string file, int line, string words)
        {
            var response = await ImportAsync(file);
            response.ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_agent_file");
            response.Object["line"]!.GetValue<int>().ShouldBe(line, response.Text);
            ((string)response.Object["detail"]!).ShouldStartWith($"line {line}: ");
            ((string)response.Object["detail"]!).ShouldContain(words, Case.Insensitive);
        }

        await ShouldPointAt($"---\nname: \"{name}\"\ntags: a: b\n---\nprompt", 3, "YAML");
        await ShouldPointAt($"---\nname: \"{name}\"\ndescription: fine\ncolour: blue\n---\nprompt", 4, "unknown key 'colour'");
        await ShouldPointAt($"---\nname: \"{name}\"\n\ncapabilities:\n- ref: teleport\n---\nprompt", 4, "teleport");
        await ShouldPointAt($"---\nname: \"{name}\"\nmax_iterations: lots\n---\nprompt", 3, "whole number");
        await ShouldPointAt($"---\nname: \"{name}\"\nsystem_prompt: \"one\"\n---\ntwo", 3, "twice");
        await ShouldPointAt($"\n\n---\nname: \"{name}\"\nno closing fence", 3, "not closed");
        (await ImportAsync($"---\nname: \"{name}\"\n---\n   \n")).ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_agent_file");

        (await _api.GetAsync($"/v1/agents/check-name?name={name}")).Object["available"]!.GetValue<bool>().ShouldBeTrue();
    }

    [Fact]
    public async Task json_yaml_plain_text_and_examples_import_too()
    {
        var json = await ImportAsync($$"""{"name": "{{Names.Unique("json")}}", "system_prompt": "From JSON.", "tags": ["j"]}""");
        json.Status.ShouldBe(HttpStatusCode.Created, json.Text);
        ((string)json.Object["system_prompt"]!).ShouldBe("From JSON.");

        var yaml = await ImportAsync($"name: {Names.Unique("yaml")}\nsystem_prompt: From YAML.\ncapabilities:\n- current_time\n");
        yaml.Status.ShouldBe(HttpStatusCode.Created, yaml.Text);
        yaml.Object["capabilities"]!.AsArray().Select(c => (string)c!["ref"]!).ShouldBe(["current_time"]);

        var plain = await ImportAsync("Just answer in haiku.");
        plain.Status.ShouldBe(HttpStatusCode.Created, plain.Text);
        ((string)plain.Object["system_prompt"]!).ShouldBe("Just answer in haiku.");
        ((string)plain.Object["name"]!).ShouldStartWith("agent-");

        var titled = await ImportAsync($"---\nname: \"Customer Care {Guid.NewGuid():N}\"\n---\nBe kind.");
        ((string)titled.Object["name"]!).ShouldStartWith("customer-care-");
        ((string)titled.Object["display_name"]!).ShouldStartWith("Customer Care ");

        var example = await ImportAsync("", "?from-example=time-keeper");
        example.Status.ShouldBe(HttpStatusCode.Created, example.Text);
        var again = await ImportAsync("", "?from-example=time-keeper");
        ((string)again.Object["name"]!).ShouldMatch("^time-keeper-[a-z0-9]{5}$");
        (await ImportAsync("", "?from-example=nothing")).ShouldBeProblem(HttpStatusCode.NotFound, "example_not_found");
    }

    [Fact]
    public async Task concurrent_imports_of_one_name_create_it_once()
    {
        var name = Names.Unique("import-race");
        var results = await Task.WhenAll(Enumerable.Range(0, 6).Select(i => ImportAsync($"---\nname: \"{name}\"\n---\nracer {i}")));
        results.Count(r => r.Status == HttpStatusCode.Created).ShouldBe(1);
        results.Select(r => r.Status).ShouldAllBe(s => s == HttpStatusCode.Created || s == HttpStatusCode.Conflict);
        (await _api.GetAsync($"/v1/agents?search={name}")).Object["data"]!.AsArray().Count.ShouldBe(1);
    }
}
