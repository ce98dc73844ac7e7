using System.Net;
using Everruns.Tests.Infrastructure;

namespace Everruns.Tests.Api;

[Collection(AppCollection.Name)]
public sealed class AgentVersionsTests(AppFixture app)
{
    private readonly ApiClient _api = app.Api;

    private async Task<List<System.Text.Json.Nodes.JsonObject>> VersionsAsync(string agentId)
    {
        var response = await _api.GetAsync($"/v1/agents/{agentId}/versions");
        response.Status.ShouldBe(HttpStatusCode.OK, response.Text);
        return response.Array.Select(v => v!.AsObject()).ToList();
    }

    [Fact]
    public async Task every_behaviour_change_records_a_version_publishing_numbers_them_and_the_first_published_is_the_default()
    {
        var agent = await _api.CreateAgentAsync(systemPrompt: "one");
        var id = (string)agent["id"]!;
        var versions = await VersionsAsync(id);
        versions.Count.ShouldBe(1);
        ((string)versions[0]["version"]!).ShouldBe("draft.1");
        ((string)versions[0]["change_kind"]!).ShouldBe("auto");
        ((string)versions[0]["authored_config"]!["system_prompt"]!).ShouldBe("one");

        // A new prompt is a new version; a new description or the same prompt again is not.
        (await _api.PatchAsync($"/v1/agents/{id}", new { system_prompt = "two" })).Status.ShouldBe(HttpStatusCode.OK);
        (await _api.PatchAsync($"/v1/agents/{id}", new { description = "just words", system_prompt = "two" })).Status.ShouldBe(HttpStatusCode.OK);
        versions = await VersionsAsync(id);
        versions.Select(v => v["version_number"]!.GetValue<int>()).ShouldBe([2, 1]);
        ((string)versions[0]["parent_version_id"]!).ShouldBe((string)versions[1]["id"]!);
        ((string)versions[0]["config_hash"]!).ShouldStartWith("sha256:");

        var published = await _api.PostAsync($"/v1/agents/{id}/versions", new { summary = "first release" });
        published.Status.ShouldBe(HttpStatusCode.OK, published.Text);
        ((string)published.Object["version"]!).ShouldBe("0.1.0");
        published.Object["is_published"]!.GetValue<bool>().ShouldBeTrue();
        ((string)published.Object["change_kind"]!).ShouldBe("manual");
        ((string)(await _api.GetAsync($"/v1/agents/{id}")).Object["default_version_id"]!).ShouldBe((string)published.Object["id"]!);

        var minor = await _api.PostAsync($"/v1/agents/{id}/versions", new { change_kind = "minor" });
        ((string)minor.Object["version"]!).ShouldBe("0.2.0");
        ((string)(await _api.PostAsync($"/v1/agents/{id}/versions", new { change_kind = "major" })).Object["version"]!).ShouldBe("1.0.0");
        ((string)(await _api.PostAsync($"/v1/agents/{id}/versions", new { })).Object["version"]!).ShouldBe("1.0.1");
        (await _api.PostAsync($"/v1/agents/{id}/versions", new { change_kind = "auto" })).ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_change_kind");

        // The default: a published version of this agent only.
        var setDefault = await _api.PostAsync($"/v1/agents/{id}/versions/default", new { version_id = (string)minor.Object["id"]! });
        setDefault.Status.ShouldBe(HttpStatusCode.OK, setDefault.Text);
        ((string)setDefault.Object["default_version_id"]!).ShouldBe((string)minor.Object["id"]!);
        (await _api.PostAsync($"/v1/agents/{id}/versions/default", new { version_id = (string)versions[0]["id"]! }))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "version_not_published");
        var other = await _api.CreateAgentAsync();
        var otherVersion = (string)(await VersionsAsync((string)other["id"]!))[0]["id"]!;
        (await _api.PostAsync($"/v1/agents/{id}/versions/default", new { version_id = otherVersion }))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "agent_version_mismatch");
        (await _api.PostAsync($"/v1/agents/{id}/versions/default", new { version_id = "agentver_" + new string('0', 32) }))
            .ShouldBeProblem(HttpStatusCode.NotFound, "agent_version_not_found");
    }

    [Fact]
    public async Task a_diff_names_each_changed_field_a_rollback_is_a_new_version_equal_to_the_old_and_a_fork_is_a_new_agent()
    {
        var agent = await _api.CreateAgentAsync(systemPrompt: "be brief", capabilities: new[] { new { @ref = "current_time" } });
        var id = (string)agent["id"]!;
        var first = (await VersionsAsync(id))[0];
        (await _api.PatchAsync($"/v1/agents/{id}", new { system_prompt = "be thorough", max_iterations = 7 })).Status.ShouldBe(HttpStatusCode.OK);
        var second = (await VersionsAsync(id))[0];

        var diff = await _api.GetAsync($"/v1/agents/{id}/versions/{first["id"]}/diff/{second["id"]}");
        diff.Status.ShouldBe(HttpStatusCode.OK, diff.Text);
        var authored = diff.Object["authored_diff"]!.AsObject();
        authored.Select(p => p.Key).Order().ShouldBe(["max_iterations", "system_prompt"]);
        ((string)authored["system_prompt"]!["from"]!).ShouldBe("be brief");
        ((string)authored["system_prompt"]!["to"]!).ShouldBe("be thorough");
        authored["max_iterations"]!["from"].ShouldBeNull();
        diff.Object["resolved_diff"]!.AsObject().ContainsKey("capabilities").ShouldBeFalse();

        var rolledBack = await _api.PostAsync($"/v1/agents/{id}/versions/{first["id"]}/rollback", new { save_version = true });
        rolledBack.Status.ShouldBe(HttpStatusCode.OK, rolledBack.Text);
        ((string)rolledBack.Object["system_prompt"]!).ShouldBe("be brief");
        rolledBack.Object["max_iterations"].ShouldBeNull();
        var latest = (await VersionsAsync(id))[0];
        ((string)latest["change_kind"]!).ShouldBe("rollback");
        ((string)latest["source_version_id"]!).ShouldBe((string)first["id"]!);
        ((string)latest["config_hash"]!).ShouldBe((string)first["config_hash"]!);
        ((string)latest["version"]!).ShouldBe("0.1.0");
        latest["version_number"]!.GetValue<int>().ShouldBe(3);

        var forkName = Names.Unique("forked");
        var fork = await _api.PostAsync($"/v1/agents/{id}/versions/{second["id"]}/fork", new { name = forkName, display_name = "Forked" });
        fork.Status.ShouldBe(HttpStatusCode.OK, fork.Text);
        var forkId = (string)fork.Object["id"]!;
        forkId.ShouldNotBe(id);
        ((string)fork.Object["system_prompt"]!).ShouldBe("be thorough");
        ((string)fork.Object["forked_from_agent_id"]!).ShouldBe(id);
        ((string)fork.Object["forked_from_version_id"]!).ShouldBe((string)second["id"]!);
        ((string)fork.Object["root_agent_id"]!).ShouldBe(id);
        var forkVersions = await VersionsAsync(forkId);
        forkVersions.Single()["change_kind"]!.ToString().ShouldBe("fork");
        ((string)forkVersions.Single()["version"]!).ShouldBe("0.1.0");
        ((string)fork.Object["default_version_id"]!).ShouldBe((string)forkVersions.Single()["id"]!);
        (await _api.PostAsync($"/v1/agents/{id}/versions/{second["id"]}/fork", new { name = forkName }))
            .ShouldBeProblem(HttpStatusCode.Conflict, "agent_name_taken");
        (await _api.PostAsync($"/v1/agents/{forkId}/versions/{second["id"]}/rollback", new { }))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "agent_version_mismatch");
    }

    [Fact]
    public async Task agents_are_copied_under_a_free_name_and_names_are_checked()
    {
        var agent = await _api.PostAsync("/v1/agents", new { name = Names.Unique("orig"), display_name = "Original", system_prompt = "hi" });
        var name = (string)agent.Object["name"]!;
        var copy = await _api.PostAsync($"/v1/agents/{agent.Object["id"]}/copy");
        copy.Status.ShouldBe(HttpStatusCode.Created, copy.Text);
        ((string)copy.Object["name"]!).ShouldBe($"{name}-copy");
        ((string)copy.Object["display_name"]!).ShouldBe("Original (copy)");
        ((string)copy.Object["system_prompt"]!).ShouldBe("hi");
        ((string)(await _api.PostAsync($"/v1/agents/{name}/copy")).Object["name"]!).ShouldBe($"{name}-copy-2");
        (await VersionsAsync((string)copy.Object["id"]!)).Count.ShouldBe(1);

        (await _api.GetAsync($"/v1/agents/check-name?name={name}")).Object["available"]!.GetValue<bool>().ShouldBeFalse();
        (await _api.GetAsync($"/v1/agents/check-name?name={name}&exclude_id={agent.Object["id"]}")).Object["available"]!.GetValue<bool>().ShouldBeTrue();
        (await _api.GetAsync($"/v1/agents/check-name?name={Names.Unique("free")}")).Object["available"]!.GetValue<bool>().ShouldBeTrue();
        (await _api.GetAsync("/v1/agents/check-name?name=Bad_Name")).Object["available"]!.GetValue<bool>().ShouldBeFalse();
        (await _api.GetAsync("/v1/agents/check-name?name=x&exclude_id=nope")).ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_agent_id");

        (await _api.GetAsync("/v1/agents/config")).Object["policies"]!["agent_manage"]!.GetValue<bool>().ShouldBeTrue();
        var preview = await _api.PostAsync("/v1/agents/preview", new { system_prompt = "hi", capabilities = new[] { new { @ref = "current_time" } } });
        preview.Status.ShouldBe(HttpStatusCode.OK, preview.Text);
        preview.Object["tools"]!.AsArray().Select(t => (string)t!["name"]!).ShouldBe(["current_time"]);
        preview.Object["findings"]!.AsArray().Select(f => (string)f!["rule_id"]!).ShouldContain("short_prompt");
    }

    [Fact]
    public async Task concurrent_creates_and_copies_of_one_name_leave_exactly_one_agent_with_it()
    {
        var name = Names.Unique("race");
        var creates = await Task.WhenAll(Enumerable.Range(0, 8).Select(i =>
            _api.PostAsync("/v1/agents", new { name, system_prompt = $"racer {i}" })));
        creates.Select(r => r.Status).ShouldAllBe(s => s == HttpStatusCode.Created || s == HttpStatusCode.OK || s == HttpStatusCode.Conflict);
        creates.Count(r => r.Status == HttpStatusCode.Created).ShouldBe(1);
        var withName = (await _api.GetAsync($"/v1/agents?search={name}&limit=100")).Object["data"]!.AsArray();
        withName.Count(a => (string)a!["name"]! == name).ShouldBe(1);

        var copies = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => _api.PostAsync($"/v1/agents/{name}/copy")));
        copies.Select(r => r.Status).ShouldAllBe(s => s == HttpStatusCode.Created || s == HttpStatusCode.Conflict);
        var names = (await _api.GetAsync($"/v1/agents?search={name}&limit=100")).Object["data"]!.AsArray().Select(a => (string)a!["name"]!).ToList();
        names.Distinct().Count().ShouldBe(names.Count);
        names.Count.ShouldBe(1 + copies.Count(r => r.Status == HttpStatusCode.Created));
    }

    [Fact]
    public async Task a_session_keeps_the_version_it_opened_on_after_the_agent_changes_and_may_name_a_version()
    {
        await using var fake = await FakeOpenAi.StartAsync();
        await using var database = await TestDatabase.CreateAsync("everruns_versions");
        await using var host = await TestHost.StartAsync(database.Url, settings: fake.ServerSettings());
        var api = new ApiClient(host.Server.CreateClient());

        var agent = await api.CreateAgentAsync(systemPrompt: "PROMPT-ONE");
        var agentId = (string)agent["id"]!;
        var first = await api.CreateSessionAsync(new { agent_id = agentId });
        var v1 = (string)first["agent_version_id"]!;
        v1.ShouldMatch("^agentver_[0-9a-f]{32}$");

        (await api.PatchAsync($"/v1/agents/{agentId}", new { system_prompt = "PROMPT-TWO" })).Status.ShouldBe(HttpStatusCode.OK);
        var second = await api.CreateSessionAsync(new { agent_id = agentId });
        ((string)second["agent_version_id"]!).ShouldNotBe(v1);
        var pinned = await api.CreateSessionAsync(new { agent_version_id = v1 });
        ((string)pinned["agent_id"]!).ShouldBe(agentId);
        ((string)pinned["agent_version_id"]!).ShouldBe(v1);
        ((string)(await api.GetAsync($"/v1/sessions/{first["id"]}")).Object["agent_version_id"]!).ShouldBe(v1);

        async Task<string> SystemPromptOf(System.Text.Json.Nodes.JsonObject session)
        {
            await api.PostMessageAsync((string)session["id"]!, "hi");
            await api.WaitForTurnsAsync((string)session["id"]!);
            return (string)fake.Requests.Last().Body["messages"]![0]!["content"]!;
        }

        (await SystemPromptOf(first)).ShouldBe("PROMPT-ONE");
        (await SystemPromptOf(second)).ShouldBe("PROMPT-TWO");
        (await SystemPromptOf(pinned)).ShouldBe("PROMPT-ONE");

        // With a default version, new sessions run it, whatever the agent became after.
        var published = (await api.PostAsync($"/v1/agents/{agentId}/versions", new { })).Object;
        (await api.PatchAsync($"/v1/agents/{agentId}", new { system_prompt = "PROMPT-THREE" })).Status.ShouldBe(HttpStatusCode.OK);
        var onDefault = await api.CreateSessionAsync(new { agent_id = agentId });
        ((string)onDefault["agent_version_id"]!).ShouldBe((string)published["id"]!);
        (await SystemPromptOf(onDefault)).ShouldBe("PROMPT-TWO");

        var other = await api.CreateAgentAsync();
        (await api.PostAsync("/v1/sessions", new { agent_id = (string)other["id"]!, agent_version_id = v1 }))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "agent_version_mismatch");
        (await api.PostAsync("/v1/sessions", new { agent_version_id = "agentver_" + new string('1', 32) }))
            .ShouldBeProblem(HttpStatusCode.NotFound, "agent_version_not_found");
    }
}
