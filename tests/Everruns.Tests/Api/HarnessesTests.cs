using System.Net;
using Everruns.Tests.Infrastructure;

namespace Everruns.Tests.Api;

[Collection(AppCollection.Name)]
public sealed class HarnessesTests(AppFixture app)
{
    private readonly ApiClient _api = app.Api;

    [Fact]
    public async Task a_harness_is_created_listed_found_by_id_or_name_changed_copied_and_checked_for_its_name()
    {
        var name = Names.Unique("support-base");
        (await _api.GetAsync($"/v1/harnesses/check-name?name={name}")).Object["available"]!.GetValue<bool>().ShouldBeTrue();
        var created = await _api.PostAsync("/v1/harnesses", new
        {
            name, display_name = "Support base", description = "House style", system_prompt = "Always answer in French.",
            capabilities = new[] { new { @ref = "current_time" } }, tags = new[] { "support" },
        });
        created.Status.ShouldBe(HttpStatusCode.Created, created.Text);
        var id = (string)created.Object["id"]!;
        id.ShouldMatch("^harness_[0-9a-f]{32}$");
        created.Object["is_built_in"]!.GetValue<bool>().ShouldBeFalse();
        ((string)created.Object["parent_harness_id"]!).ShouldBe("harness_00000000000000000000000000000001");

        // The name is taken now (except for the harness itself); a second create of it is a conflict.
        (await _api.GetAsync($"/v1/harnesses/check-name?name={name}")).Object["available"]!.GetValue<bool>().ShouldBeFalse();
        (await _api.GetAsync($"/v1/harnesses/check-name?name={name}&exclude_id={id}")).Object["available"]!.GetValue<bool>().ShouldBeTrue();
        (await _api.GetAsync("/v1/harnesses/check-name?name=Not%20A%20Slug")).Object["available"]!.GetValue<bool>().ShouldBeFalse();
        (await _api.PostAsync("/v1/harnesses", new { name })).ShouldBeProblem(HttpStatusCode.Conflict, "harness_name_taken");

        (await _api.GetAsync($"/v1/harnesses/{name}")).Object["id"]!.ToString().ShouldBe(id);
        var listed = (await _api.GetAsync($"/v1/harnesses?search={name}")).Object["data"]!.AsArray();
        listed.Select(h => (string)h!["id"]!).ShouldBe([id]);
        (await _api.GetAsync("/v1/harnesses")).Object["data"]!.AsArray().First()!["name"]!.ToString().ShouldBe("generic");

        var patched = await _api.PatchAsync($"/v1/harnesses/{id}", new { system_prompt = "Always answer in German.", tags = new[] { "de" } });
        patched.Status.ShouldBe(HttpStatusCode.OK, patched.Text);
        ((string)patched.Object["system_prompt"]!).ShouldBe("Always answer in German.");
        ((string)patched.Object["display_name"]!).ShouldBe("Support base");

        var copy = await _api.PostAsync($"/v1/harnesses/{id}/copy");
        copy.Status.ShouldBe(HttpStatusCode.Created, copy.Text);
        ((string)copy.Object["name"]!).ShouldBe($"{name}-copy");
        ((string)copy.Object["display_name"]!).ShouldBe("Support base (copy)");
        ((string)copy.Object["system_prompt"]!).ShouldBe("Always answer in German.");
        ((string)(await _api.PostAsync($"/v1/harnesses/{id}/copy")).Object["name"]!).ShouldBe($"{name}-copy-2");

        // Archived: gone from the list (unless asked for), refused to new agents, back when reactivated.
        (await _api.PatchAsync($"/v1/harnesses/{id}", new { status = "archived" })).Status.ShouldBe(HttpStatusCode.OK);
        (await _api.GetAsync($"/v1/harnesses?search={name}")).Object["data"]!.AsArray().Select(h => (string)h!["name"]!).ShouldNotContain(name);
        (await _api.GetAsync($"/v1/harnesses?search={name}&include_archived=true")).Object["data"]!.AsArray()
            .Select(h => (string)h!["name"]!).ShouldContain(name);
        (await _api.PostAsync("/v1/agents", new { name = Names.Unique("a"), system_prompt = "x", harness_id = id }))
            .ShouldBeProblem(HttpStatusCode.Conflict, "harness_archived");
        (await _api.PatchAsync($"/v1/harnesses/{id}", new { description = "still archived" })).ShouldBeProblem(HttpStatusCode.Conflict, "harness_archived");
    }

    [Fact]
    public async Task the_built_in_harness_cannot_be_changed_or_deleted_and_a_harness_in_use_cannot_be_deleted_but_can_be_archived()
    {
        (await _api.PatchAsync("/v1/harnesses/harness_00000000000000000000000000000001", new { description = "mine" }))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "harness_built_in");
        (await _api.DeleteAsync("/v1/harnesses/harness_00000000000000000000000000000001")).ShouldBeProblem(HttpStatusCode.BadRequest, "harness_built_in");
        (await _api.PostAsync("/v1/harnesses", new { name = "generic" })).ShouldBeProblem(HttpStatusCode.Conflict, "harness_name_taken");
        (await _api.PostAsync("/v1/harnesses", new { name = Names.Unique("h"), network_access = new { allowed = new[] { "x" } } }))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "unsupported_field");

        var harness = (await _api.PostAsync("/v1/harnesses", new { name = Names.Unique("in-use") })).Object;
        var harnessId = (string)harness["id"]!;
        var agent = (await _api.PostAsync("/v1/agents", new { name = Names.Unique("on-harness"), system_prompt = "x", harness_name = (string)harness["name"]! })).Object;
        ((string)agent["harness_id"]!).ShouldBe(harnessId);

        (await _api.DeleteAsync($"/v1/harnesses/{harnessId}")).ShouldBeProblem(HttpStatusCode.Conflict, "harness_in_use");
        (await _api.GetAsync($"/v1/harnesses/{harnessId}")).Status.ShouldBe(HttpStatusCode.OK);
        (await _api.PatchAsync($"/v1/harnesses/{harnessId}", new { status = "archived" })).Status.ShouldBe(HttpStatusCode.OK);

        // Once no active agent runs on it, it can be deleted; its name is free again.
        (await _api.DeleteAsync($"/v1/agents/{agent["id"]}")).Status.ShouldBe(HttpStatusCode.NoContent);
        (await _api.DeleteAsync($"/v1/harnesses/{harnessId}")).Status.ShouldBe(HttpStatusCode.NoContent);
        (await _api.GetAsync($"/v1/harnesses/{harnessId}")).ShouldBeProblem(HttpStatusCode.NotFound, "harness_not_found");
        (await _api.GetAsync($"/v1/harnesses/check-name?name={harness["name"]}")).Object["available"]!.GetValue<bool>().ShouldBeTrue();
    }

    [Fact]
    public async Task examples_are_listed_and_imported_as_harnesses_of_the_org_and_previews_show_their_tools()
    {
        var examples = (await _api.GetAsync("/v1/harness-examples")).Array;
        examples.Select(e => (string)e!["name"]!).ShouldContain("research-assistant");

        var first = await _api.PostAsync("/v1/harnesses/import?from-example=file-worker");
        first.Status.ShouldBe(HttpStatusCode.Created, first.Text);
        ((string)first.Object["name"]!).ShouldStartWith("file-worker");
        first.Object["capabilities"]!.AsArray().Select(c => (string)c!["ref"]!).ShouldBe(["session_file_system"]);
        // Imported again: the name is taken, so it gets a suffix.
        var second = await _api.PostAsync("/v1/harnesses/import?from-example=file-worker");
        ((string)second.Object["name"]!).ShouldMatch("^file-worker-[a-z0-9]{5}$");
        (await _api.PostAsync("/v1/harnesses/import?from-example=nope")).ShouldBeProblem(HttpStatusCode.NotFound, "example_not_found");
        (await _api.PostAsync("/v1/harnesses/import")).ShouldBeProblem(HttpStatusCode.BadRequest, "missing_example");

        var preview = await _api.PostAsync("/v1/harnesses/preview", new { system_prompt = "Base.", capabilities = new[] { new { @ref = "session_storage" } } });
        preview.Status.ShouldBe(HttpStatusCode.OK, preview.Text);
        ((string)preview.Object["system_prompt"]!).ShouldBe("Base.");
        preview.Object["tools"]!.AsArray().Select(t => (string)t!["name"]!).ShouldContain("storage_get");

        var config = await _api.GetAsync("/v1/harnesses/config");
        config.Object["policies"]!["harness_manage"]!.GetValue<bool>().ShouldBeTrue();
    }

    [Fact]
    public async Task agents_and_sessions_on_a_harness_inherit_its_prompt_capabilities_files_and_model_and_keep_them_once_opened()
    {
        await using var fake = await FakeOpenAi.StartAsync();
        await using var database = await TestDatabase.CreateAsync("everruns_harness");
        await using var host = await TestHost.StartAsync(database.Url, settings: fake.ServerSettings("fake-small,fake-large"));
        var api = new ApiClient(host.Server.CreateClient());

        var harness = (await api.PostAsync("/v1/harnesses", new
        {
            name = "house-style", system_prompt = "HARNESS: answer in one line.", default_model_id = "fake-large",
            capabilities = new[] { new { @ref = "current_time" } },
            initial_files = new[] { new { path = "STYLE.md", content = "one line" } },
        })).Object;
        var agent = await api.PostAsync("/v1/agents", new { name = "liner", system_prompt = "AGENT: you are a poet.", harness_id = (string)harness["id"]! });
        agent.Status.ShouldBe(HttpStatusCode.Created, agent.Text);

        var session = await api.CreateSessionAsync(new { agent_id = (string)agent.Object["id"]! });
        ((string)session["harness_id"]!).ShouldBe((string)harness["id"]!);
        ((string)session["model_id"]!).ShouldBe("fake-large"); // the agent names none: the harness's
        ((string)(await api.GetAsync($"/v1/sessions/{session["id"]}/fs/STYLE.md")).Object["content"]!).ShouldBe("one line");

        await api.PostMessageAsync((string)session["id"]!, "hello");
        await api.WaitForTurnsAsync((string)session["id"]!);
        var request = fake.Requests.Last().Body;
        var system = (string)request["messages"]![0]!["content"]!;
        system.ShouldStartWith("HARNESS: answer in one line.");
        system.ShouldContain("AGENT: you are a poet.");
        system.IndexOf("HARNESS", StringComparison.Ordinal).ShouldBeLessThan(system.IndexOf("AGENT", StringComparison.Ordinal));
        request["tools"]!.AsArray().Select(t => (string)t!["function"]!["name"]!).ShouldContain("current_time");

        // A change to the harness reaches new sessions; the open one keeps what it was opened with.
        (await api.PatchAsync($"/v1/harnesses/{harness["id"]}", new { system_prompt = "HARNESS2: answer in two lines." })).Status.ShouldBe(HttpStatusCode.OK);
        await api.PostMessageAsync((string)session["id"]!, "again");
        await api.WaitForTurnsAsync((string)session["id"]!, 2);
        ((string)fake.Requests.Last().Body["messages"]![0]!["content"]!).ShouldStartWith("HARNESS: answer in one line.");

        var fresh = await api.CreateSessionAsync(new { agent_id = (string)agent.Object["id"]! });
        await api.PostMessageAsync((string)fresh["id"]!, "new");
        await api.WaitForTurnsAsync((string)fresh["id"]!);
        ((string)fake.Requests.Last().Body["messages"]![0]!["content"]!).ShouldStartWith("HARNESS2: answer in two lines.");

        // A bare session may name a harness itself; the harness's sessions show in its stats and count.
        var bare = await api.CreateSessionAsync(new { harness_name = "house-style" });
        ((string)bare["harness_id"]!).ShouldBe((string)harness["id"]!);
        var stats = (await api.GetAsync("/v1/harnesses/house-style/stats")).Object;
        stats["session_count"]!.GetValue<long>().ShouldBe(3);
        stats["execution_count"]!.GetValue<long>().ShouldBe(3);
        (await api.GetAsync($"/v1/harnesses/{harness["id"]}")).Object["session_count"]!.GetValue<long>().ShouldBe(3);
    }
}
