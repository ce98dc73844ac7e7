using System.Net;
using Everruns.Tests.Infrastructure;

namespace Everruns.Tests.Api;

[Collection(AppCollection.Name)]
public sealed class AgentsTests(AppFixture app)
{
    private readonly ApiClient _api = app.Api;

    [Fact]
    public async Task creating_an_agent_returns_it_with_a_public_id_and_every_field()
    {
        var name = Names.Unique("support");
        var response = await _api.PostAsync("/v1/agents", new
        {
            name,
            display_name = "Customer Support",
            description = "Answers customers",
            system_prompt = "Be kind.",
            capabilities = new[] { new { @ref = "current_time" } },
            tags = new[] { "prod", "prod", "eu" },
        });

        response.Status.ShouldBe(HttpStatusCode.Created, response.Text);
        var agent = response.Object;
        ((string)agent["id"]!).ShouldMatch("^agent_[0-9a-f]{32}$");
        response.Headers.Location!.ToString().ShouldEndWith($"/v1/agents/{agent["id"]}");
        ((string)agent["name"]!).ShouldBe(name);
        ((string)agent["display_name"]!).ShouldBe("Customer Support");
        ((string)agent["system_prompt"]!).ShouldBe("Be kind.");
        ((string)agent["status"]!).ShouldBe("active");
        ((string)agent["harness_id"]!).ShouldMatch("^harness_[0-9a-f]{32}$");
        agent["capabilities"]!.AsArray().Select(c => (string)c!["ref"]!).ShouldBe(["current_time"]);
        agent["tags"]!.AsArray().Select(t => (string)t!).ShouldBe(["prod", "eu"]);
        agent["created_at"].ShouldNotBeNull();
        agent["session_count"]!.GetValue<long>().ShouldBe(0);

        var fetched = await _api.GetAsync($"/v1/agents/{agent["id"]}");
        fetched.Status.ShouldBe(HttpStatusCode.OK);
        ((string)fetched.Object["name"]!).ShouldBe(name);
    }

    [Fact]
    public async Task posting_an_existing_name_or_id_upserts_the_same_agent()
    {
        var created = await _api.CreateAgentAsync(systemPrompt: "v1");
        var name = (string)created["name"]!;
        var id = (string)created["id"]!;

        var byName = await _api.PostAsync("/v1/agents", new { name, system_prompt = "v2" });
        byName.Status.ShouldBe(HttpStatusCode.OK, byName.Text);
        ((string)byName.Object["id"]!).ShouldBe(id);
        ((string)byName.Object["system_prompt"]!).ShouldBe("v2");

        var byId = await _api.PostAsync("/v1/agents", new { id, name = name + "-renamed", system_prompt = "v3" });
        byId.Status.ShouldBe(HttpStatusCode.OK, byId.Text);
        ((string)byId.Object["name"]!).ShouldBe(name + "-renamed");

        var clientId = "agent_" + Guid.NewGuid().ToString("N");
        var withNewId = await _api.PostAsync("/v1/agents", new { id = clientId, name = Names.Unique("fresh"), system_prompt = "x" });
        withNewId.Status.ShouldBe(HttpStatusCode.Created, withNewId.Text);
        ((string)withNewId.Object["id"]!).ShouldBe(clientId);
    }

    [Fact]
    public async Task the_sdk_model_field_sets_the_default_model()
    {
        var response = await _api.PostAsync("/v1/agents", new { name = Names.Unique("m"), system_prompt = "x", model = "everruns-offline" });
        response.Status.ShouldBe(HttpStatusCode.Created, response.Text);
        ((string)response.Object["default_model_id"]!).ShouldBe("everruns-offline");
    }

    [Theory]
    [InlineData("Has Caps")]
    [InlineData("trailing-")]
    [InlineData("double--hyphen")]
    [InlineData("")]
    public async Task an_invalid_name_is_a_400_and_nothing_is_stored(string name)
    {
        var before = await CountAgentsAsync();
        var response = await _api.PostAsync("/v1/agents", new { name, system_prompt = "x" });
        response.ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_name");
        (await CountAgentsAsync()).ShouldBe(before);
    }

    [Fact]
    public async Task a_name_longer_than_64_characters_is_refused()
    {
        var response = await _api.PostAsync("/v1/agents", new { name = new string('a', 65), system_prompt = "x" });
        response.ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_name");
    }

    [Fact]
    public async Task malformed_input_is_a_clear_400_never_a_500()
    {
        (await _api.PostAsync("/v1/agents", "{not json")).Status.ShouldBe(HttpStatusCode.BadRequest);
        (await _api.PostAsync("/v1/agents", "[1,2]")).Status.ShouldBe(HttpStatusCode.BadRequest);
        (await _api.PostAsync("/v1/agents", new { name = "ok-name" })).ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_system_prompt");
        (await _api.PostAsync("/v1/agents", new { name = Names.Unique("c"), system_prompt = "x", capabilities = new[] { new { @ref = "teleport" } } }))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "capability_not_supported");
        (await _api.PostAsync("/v1/agents", new { id = "agent_123", name = Names.Unique("c"), system_prompt = "x" }))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_agent_id");
        (await _api.PostAsync("/v1/agents", new { name = Names.Unique("c"), system_prompt = "x", default_model_id = "gpt-9" }))
            .ShouldBeProblem(HttpStatusCode.NotFound, "model_not_found");
        (await _api.GetAsync("/v1/agents/not-an-id")).ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_agent_id");
        (await _api.GetAsync("/v1/agents/agent_" + Guid.NewGuid().ToString("N"))).ShouldBeProblem(HttpStatusCode.NotFound, "agent_not_found");
        (await _api.GetAsync("/v1/agents?limit=0")).ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_limit");
        (await _api.GetAsync("/v1/agents?offset=x")).ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_offset");
    }

    [Fact]
    public async Task patch_changes_only_the_given_fields_and_refuses_a_taken_name()
    {
        var agent = await _api.CreateAgentAsync(systemPrompt: "original");
        var other = await _api.CreateAgentAsync();

        var patched = await _api.PatchAsync($"/v1/agents/{agent["id"]}", new { description = "now described" });
        patched.Status.ShouldBe(HttpStatusCode.OK, patched.Text);
        ((string)patched.Object["description"]!).ShouldBe("now described");
        ((string)patched.Object["system_prompt"]!).ShouldBe("original");

        (await _api.PatchAsync($"/v1/agents/{agent["id"]}", new { name = (string)other["name"]! }))
            .ShouldBeProblem(HttpStatusCode.Conflict, "agent_name_taken");
        (await _api.PatchAsync($"/v1/agents/{agent["id"]}", new { name = "Bad Name" }))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_name");
    }

    [Fact]
    public async Task delete_archives_the_agent_out_of_listings_and_an_upsert_revives_it()
    {
        var agent = await _api.CreateAgentAsync();
        var id = (string)agent["id"]!;

        (await _api.DeleteAsync($"/v1/agents/{id}")).Status.ShouldBe(HttpStatusCode.NoContent);

        var fetched = await _api.GetAsync($"/v1/agents/{id}");
        ((string)fetched.Object["status"]!).ShouldBe("archived");
        (await ListIdsAsync($"?search={agent["name"]}")).ShouldNotContain(id);
        (await ListIdsAsync($"?search={agent["name"]}&include_archived=true")).ShouldContain(id);

        // An archived agent opens no new sessions.
        (await _api.PostAsync("/v1/sessions", new { agent_id = id })).ShouldBeProblem(HttpStatusCode.Conflict, "agent_archived");

        var revived = await _api.PostAsync("/v1/agents", new { name = (string)agent["name"]!, system_prompt = "back" });
        revived.Status.ShouldBe(HttpStatusCode.OK, revived.Text);
        ((string)revived.Object["status"]!).ShouldBe("active");
    }

    [Fact]
    public async Task the_list_pages_newest_first_with_the_sdk_envelope_and_search()
    {
        var marker = Names.Unique("page");
        var ids = new List<string>();
        for (var i = 0; i < 3; i++)
            ids.Add((string)(await _api.CreateAgentAsync($"{marker}-{i}"))["id"]!);

        var first = await _api.GetAsync($"/v1/agents?search={marker}&limit=2");
        first.Status.ShouldBe(HttpStatusCode.OK, first.Text);
        var page = first.Object;
        page["total"]!.GetValue<int>().ShouldBe(3);
        page["limit"]!.GetValue<int>().ShouldBe(2);
        page["offset"]!.GetValue<int>().ShouldBe(0);
        page["data"]!.AsArray().Select(a => (string)a!["id"]!).ShouldBe([ids[2], ids[1]]);
        // The TypeScript SDK reads the page under "agents".
        page["agents"]!.AsArray().Select(a => (string)a!["id"]!).ShouldBe([ids[2], ids[1]]);
        var next = new Uri((string)page["next_url"]!);

        var second = await _api.GetAsync(next.PathAndQuery);
        second.Object["data"]!.AsArray().Select(a => (string)a!["id"]!).ShouldBe([ids[0]]);
        second.Object.ContainsKey("next_url").ShouldBeFalse();
        second.Object["prev_url"].ShouldNotBeNull();
    }

    [Fact]
    public async Task racing_creates_of_one_name_make_one_agent_and_never_a_500()
    {
        var name = Names.Unique("race");
        var responses = await Task.WhenAll(Enumerable.Range(0, 8).Select(i =>
            _api.PostAsync("/v1/agents", new { name, system_prompt = $"attempt {i}" })));

        responses.ShouldAllBe(r => r.Status == HttpStatusCode.Created || r.Status == HttpStatusCode.OK || r.Status == HttpStatusCode.Conflict);
        responses.Where(r => r.Status == HttpStatusCode.Conflict).ShouldAllBe(r => r.Code == "conflict");
        responses.Count(r => r.Status == HttpStatusCode.Created).ShouldBeGreaterThanOrEqualTo(1);
        (await ListIdsAsync($"?search={name}")).Count.ShouldBe(1);
    }

    private async Task<List<string>> ListIdsAsync(string query)
    {
        var response = await _api.GetAsync("/v1/agents" + query);
        response.Status.ShouldBe(HttpStatusCode.OK, response.Text);
        return response.Object["data"]!.AsArray().Select(a => (string)a!["id"]!).ToList();
    }

    private Task<long> CountAgentsAsync() =>
        PostgresServer.ScalarAsync<long>(app.DatabaseUrl, "select count(*) from everruns.mt_doc_agent");
}
