using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Everruns.Tests.Identity;
using Everruns.Tests.Infrastructure;

namespace Everruns.Tests.Api;

/// <summary>Workspaces and their files: the /fs surface on both route families, sessions sharing files, initial files, the file tools.</summary>
[Collection(AppCollection.Name)]
public sealed class WorkspacesTests(AppFixture app)
{
    private readonly ApiClient _api = app.Api;

    private async Task<string> NewWorkspaceAsync()
    {
        var created = await _api.PostAsync("/v1/workspaces", new { name = Names.Unique("ws"), description = "test files" });
        created.Status.ShouldBe(HttpStatusCode.Created, created.Text);
        return (string)created.Object["id"]!;
    }

    [Fact]
    public async Task workspaces_are_an_orgs_with_unique_names_and_delete_archives_them()
    {
        var name = Names.Unique("ws");
        var created = await _api.PostAsync("/v1/workspaces", new { name });
        created.Status.ShouldBe(HttpStatusCode.Created, created.Text);
        var id = (string)created.Object["id"]!;
        id.ShouldMatch("^wsp_[0-9a-f]{32}$");
        ((string)created.Object["status"]!).ShouldBe("active");
        (await _api.PostAsync("/v1/workspaces", new { name })).ShouldBeProblem(HttpStatusCode.Conflict, "workspace_name_taken");
        (await _api.PostAsync("/v1/workspaces", new { name = " " })).ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_name");

        var listed = await _api.GetAsync($"/v1/workspaces?search={name}");
        listed.Object["data"]!.AsArray().Select(w => (string)w!["id"]!).ShouldBe([id]);
        var patched = await _api.PatchAsync($"/v1/workspaces/{id}", new { description = "renamed", name = name + "-b" });
        ((string)patched.Object["name"]!).ShouldBe(name + "-b");
        (await _api.PatchAsync($"/v1/workspaces/{id}", new { status = "gone" })).ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_status");

        (await _api.DeleteAsync($"/v1/workspaces/{id}")).Status.ShouldBe(HttpStatusCode.NoContent);
        ((string)(await _api.GetAsync($"/v1/workspaces/{id}")).Object["status"]!).ShouldBe("archived");
        (await _api.GetAsync($"/v1/workspaces?search={name}")).Object["data"]!.AsArray().Count.ShouldBe(0);
        (await _api.GetAsync($"/v1/workspaces?search={name}&include_archived=true")).Object["data"]!.AsArray().Count.ShouldBe(1);

        var (_, _, stranger) = await TenancyTests.NewOrgAsync(app, Names.Unique("wsorg"));
        (await stranger.GetAsync($"/v1/workspaces/{id}")).ShouldBeProblem(HttpStatusCode.NotFound, "workspace_not_found");
        (await stranger.GetAsync($"/v1/workspaces/{id}/fs")).ShouldBeProblem(HttpStatusCode.NotFound, "workspace_not_found");
    }

    [Fact]
    public async Task the_fs_surface_reads_writes_moves_and_refuses_what_it_must()
    {
        var id = await NewWorkspaceAsync();
        var fs = $"/v1/workspaces/{id}/fs";

        var written = await _api.PostAsync($"{fs}/docs/a.txt", new { content = "hello\nworld\n" });
        written.Status.ShouldBe(HttpStatusCode.Created, written.Text);
        var hash = (string)written.Object["content_hash"]!;
        hash.ShouldStartWith("sha256:");
        (await _api.PostAsync($"{fs}/docs/a.txt", new { content = "again" })).ShouldBeProblem(HttpStatusCode.Conflict, "file_exists");

        // Parents made; listings hold no content.
        var root = (await _api.GetAsync(fs)).Object["data"]!.AsArray();
        root.Select(e => ((string)e!["path"]!, (bool)e["is_directory"]!)).ShouldBe([("/docs", true)]);
        var docs = (await _api.GetAsync($"{fs}/docs")).Object["data"]!.AsArray().Single()!;
        ((string)docs["name"]!).ShouldBe("a.txt");
        docs["content"].ShouldBeNull();
        ((long)docs["size_bytes"]!).ShouldBe(12);

        var read = (await _api.GetAsync($"{fs}/docs/a.txt")).Object;
        ((string)read["content"]!).ShouldBe("hello\nworld\n");
        ((string)read["encoding"]!).ShouldBe("text");
        ((string)read["content_hash"]!).ShouldBe(hash);

        // Raw bytes: by Accept, and as a download.
        using (var request = new HttpRequestMessage(HttpMethod.Get, $"{fs}/docs/a.txt"))
        {
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/octet-stream"));
            using var raw = await _api.Http.SendAsync(request);
            (await raw.Content.ReadAsStringAsync()).ShouldBe("hello\nworld\n");
            raw.Content.Headers.ContentType!.MediaType.ShouldBe("text/plain");
        }

        using (var download = await _api.Http.GetAsync($"{fs}/_/download/docs/a.txt"))
        {
            download.Content.Headers.ContentDisposition!.DispositionType.ShouldBe("attachment");
            (await download.Content.ReadAsStringAsync()).ShouldBe("hello\nworld\n");
        }

        // Binary content round-trips as base64.
        var png = new byte[] { 0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 255 };
        (await _api.PostAsync($"{fs}/img/logo.png", new { content = Convert.ToBase64String(png), encoding = "base64" })).Status.ShouldBe(HttpStatusCode.Created);
        var image = (await _api.GetAsync($"{fs}/img/logo.png")).Object;
        ((string)image["encoding"]!).ShouldBe("base64");
        Convert.FromBase64String((string)image["content"]!).ShouldBe(png);

        // A stale edit, read-only files.
        (await _api.PutAsync($"{fs}/docs/a.txt", new { content = "v2", content_hash = "sha256:00" })).ShouldBeProblem(HttpStatusCode.Conflict, "stale_content_hash");
        var updated = await _api.PutAsync($"{fs}/docs/a.txt", new { content = "v2", content_hash = hash });
        updated.Status.ShouldBe(HttpStatusCode.OK, updated.Text);
        (await _api.PutAsync($"{fs}/docs/a.txt", new { is_readonly = true })).Status.ShouldBe(HttpStatusCode.OK);
        (await _api.PutAsync($"{fs}/docs/a.txt", new { content = "v3" })).ShouldBeProblem(HttpStatusCode.Forbidden, "file_readonly");
        (await _api.DeleteAsync($"{fs}/docs/a.txt")).ShouldBeProblem(HttpStatusCode.Forbidden, "file_readonly");
        (await _api.DeleteAsync($"{fs}/docs?recursive=true")).ShouldBeProblem(HttpStatusCode.Forbidden, "file_readonly");
        (await _api.PostAsync($"{fs}/_/move", new { src_path = "/docs/a.txt", dst_path = "/b.txt" })).ShouldBeProblem(HttpStatusCode.Forbidden, "file_readonly");
        ((string)(await _api.GetAsync($"{fs}/docs/a.txt")).Object["content"]!).ShouldBe("v2");
        (await _api.PutAsync($"{fs}/docs/a.txt", new { is_readonly = false })).Status.ShouldBe(HttpStatusCode.OK);

        // Move, copy, stat, grep.
        var moved = await _api.PostAsync($"{fs}/_/move", new { src_path = "/docs", dst_path = "/notes" });
        moved.Status.ShouldBe(HttpStatusCode.OK, moved.Text);
        ((string)(await _api.GetAsync($"{fs}/notes/a.txt")).Object["content"]!).ShouldBe("v2");
        (await _api.GetAsync($"{fs}/docs/a.txt")).ShouldBeProblem(HttpStatusCode.NotFound, "file_not_found");
        (await _api.PostAsync($"{fs}/_/copy", new { src_path = "/notes/a.txt", dst_path = "/copy/a.txt" })).Status.ShouldBe(HttpStatusCode.Created);
        (await _api.PostAsync($"{fs}/_/copy", new { src_path = "/notes/a.txt", dst_path = "/copy/a.txt" })).ShouldBeProblem(HttpStatusCode.Conflict, "file_exists");
        var stat = (await _api.PostAsync($"{fs}/_/stat", new { path = "/copy" })).Object;
        ((bool)stat["is_directory"]!).ShouldBeTrue();
        (await _api.PostAsync($"{fs}/_/stat", new { path = "/nope" })).ShouldBeProblem(HttpStatusCode.NotFound, "file_not_found");
        (await _api.PutAsync($"{fs}/copy/a.txt", new { content = "grep me\nnot this\nme again" })).Status.ShouldBe(HttpStatusCode.OK);
        var grep = (await _api.PostAsync($"{fs}/_/grep", new { pattern = "me( again)?$", path_pattern = "*.txt" })).Object["data"]!.AsArray();
        grep.Single()!["matches"]!.AsArray().Select(m => (int)m!["line_number"]!).ShouldBe([1, 3]);
        (await _api.PostAsync($"{fs}/_/grep", new { pattern = "(" })).ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_pattern");

        // Paths: no traversal, no '//', no NUL, no reserved '_' folder; a directory is not deleted unless recursive.
        foreach (var bad in new[] { "/a/../b", "/a//b", "/a\u0000b", "/_/x" })
            (await _api.PostAsync($"{fs}/_/move", new { src_path = "/notes/a.txt", dst_path = bad })).ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_path");
        (await _api.DeleteAsync($"{fs}/copy")).ShouldBeProblem(HttpStatusCode.BadRequest, "directory_not_empty");
        (await _api.DeleteAsync($"{fs}/copy?recursive=true")).Object["deleted"]!.GetValue<bool>().ShouldBeTrue();
        (await _api.GetAsync($"{fs}/copy")).ShouldBeProblem(HttpStatusCode.NotFound, "file_not_found");

        // Archived: read-only, still readable.
        (await _api.DeleteAsync($"/v1/workspaces/{id}")).Status.ShouldBe(HttpStatusCode.NoContent);
        (await _api.PostAsync($"{fs}/late.txt", new { content = "x" })).ShouldBeProblem(HttpStatusCode.Forbidden, "workspace_archived");
        ((string)(await _api.GetAsync($"{fs}/notes/a.txt")).Object["content"]!).ShouldBe("v2");
    }

    [Fact]
    public async Task sessions_get_their_own_workspace_or_share_one_with_initial_files_and_see_writes_live()
    {
        var agent = await _api.PostAsync("/v1/agents", new
        {
            name = Names.Unique("files"), system_prompt = "x",
            initial_files = new object[]
            {
                new { path = "/README.md", content = "# agent readme" }, new { path = "/rules.txt", content = "be kind", is_readonly = true },
            },
        });
        agent.Status.ShouldBe(HttpStatusCode.Created, agent.Text);
        ((string)agent.Object["initial_files"]![1]!["path"]!).ShouldBe("/rules.txt");
        var first = await _api.PostAsync("/v1/sessions", new
        {
            agent_id = agent.Object["id"], initial_files = new[] { new { path = "/README.md", content = "# session readme" } },
        });
        first.Status.ShouldBe(HttpStatusCode.Created, first.Text);
        var sessionId = (string)first.Object["id"]!;
        var workspaceId = (string)first.Object["workspace_id"]!;
        workspaceId.ShouldMatch("^wsp_[0-9a-f]{32}$");

        // The session's own initial file wins by path; the agent's read-only one is read-only.
        var alias = $"/v1/sessions/{sessionId}/fs";
        ((string)(await _api.GetAsync($"{alias}/README.md")).Object["content"]!).ShouldBe("# session readme");
        (await _api.PutAsync($"{alias}/rules.txt", new { content = "be mean" })).ShouldBeProblem(HttpStatusCode.Forbidden, "file_readonly");
        ((string)(await _api.GetAsync($"/v1/workspaces/{workspaceId}/fs/rules.txt")).Object["content"]!).ShouldBe("be kind");

        // Another session shares the workspace: each sees the other's writes, live on its SSE stream.
        var second = await _api.PostAsync("/v1/sessions", new { workspace_id = workspaceId });
        second.Status.ShouldBe(HttpStatusCode.Created, second.Text);
        ((string)second.Object["workspace_id"]!).ShouldBe(workspaceId);
        await using var sse = await SseClient.OpenAsync(_api.Http, $"/v1/sessions/{second.Object["id"]}/sse");
        (await sse.NextAsync()).Event.ShouldBe("connected");
        (await _api.PostAsync($"{alias}/shared/plan.md", new { content = "step 1" })).Status.ShouldBe(HttpStatusCode.Created);
        var written = (await sse.UntilAsync(f => f.Event == "file.written")).Last().Json["data"]!;
        ((string)written["path"]!).ShouldBe("/shared/plan.md");
        ((string)written["operation"]!).ShouldBe("create");
        ((string)(await _api.GetAsync($"/v1/sessions/{second.Object["id"]}/fs/shared/plan.md")).Object["content"]!).ShouldBe("step 1");

        // A workspace that is not there, or archived, is refused; nothing is made.
        (await _api.PostAsync("/v1/sessions", new { workspace_id = $"wsp_{Guid.NewGuid():N}" })).ShouldBeProblem(HttpStatusCode.NotFound, "workspace_not_found");
        var archived = await NewWorkspaceAsync();
        await _api.DeleteAsync($"/v1/workspaces/{archived}");
        (await _api.PostAsync("/v1/sessions", new { workspace_id = archived })).ShouldBeProblem(HttpStatusCode.Conflict, "workspace_archived");
        (await _api.PostAsync("/v1/sessions", new { initial_files = new[] { new { path = "/../x", content = "x" } } }))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_initial_files");
    }

    [Fact]
    public async Task the_agents_file_tools_work_in_a_turn_and_commit_with_their_results()
    {
        // (file_system: Everruns' other name for the capability, stored as session_file_system.)
        var session = await _api.PostAsync("/v1/sessions", new
        {
            capabilities = new[] { new { @ref = "file_system" } },
            initial_files = new[] { new { path = "/locked.txt", content = "do not touch", is_readonly = true } },
        });
        var sessionId = (string)session.Object["id"]!;
        ((string)session.Object["capabilities"]![0]!["ref"]!).ShouldBe("session_file_system");

        async Task<List<JsonNode>> TurnAsync(string message, int turn)
        {
            await _api.PostMessageAsync(sessionId, message);
            var events = await _api.WaitForTurnsAsync(sessionId, turn);
            ((string)events.Last(e => ((string)e["type"]!).StartsWith("turn.", StringComparison.Ordinal))["type"]!).ShouldBe("turn.completed");
            var started = events.FindLastIndex(e => (string)e["type"]! == "turn.started");
            return events.Skip(started).Where(e => (string)e["type"]! == "tool.completed").Select(e => e["data"]!).ToList();
        }

        static JsonNode Result(JsonNode completed) => JsonNode.Parse((string)completed["result"]![0]!["text"]!)!;

        var results = await TurnAsync("""call write_file {"path":"notes/todo.md","content":"buy milk\nwalk dog"} then call read_file {"path":"/workspace/notes/todo.md"}""", 1);
        results.ShouldAllBe(r => (bool)r["success"]!);
        var hash = (string)Result(results[1])["content_hash"]!;
        ((string)Result(results[1])["content"]!).ShouldBe("buy milk\nwalk dog");

        results = await TurnAsync($$"""call edit_file {"path":"notes/todo.md","expected_hash":"{{hash}}","edits":[{"old_text":"milk","new_text":"bread"}]}""", 2);
        ((bool)results[0]["success"]!).ShouldBeTrue(results[0].ToJsonString());
        ((string)(await _api.GetAsync($"/v1/sessions/{sessionId}/fs/notes/todo.md")).Object["content"]!).ShouldBe("buy bread\nwalk dog");

        // The same edit again: the file changed since that hash, so it is refused and changes nothing.
        results = await TurnAsync($$"""call edit_file {"path":"notes/todo.md","expected_hash":"{{hash}}","edits":[{"old_text":"walk","new_text":"feed"}]}""", 3);
        ((string)results[0]["error"]!).ShouldContain("changed since it was read");
        ((string)(await _api.GetAsync($"/v1/sessions/{sessionId}/fs/notes/todo.md")).Object["content"]!).ShouldBe("buy bread\nwalk dog");

        results = await TurnAsync("""call list_directory {"path":"/workspace/notes"} and call grep_files {"pattern":"bread"} and call move_file {"src_path":"notes/todo.md","dst_path":"done/todo.md"} and call stat_file {"path":"notes/todo.md"}""", 4);
        Result(results[0])["entries"]!.AsArray().Select(e => (string)e!["path"]!).ShouldBe(["/workspace/notes/todo.md"]);
        ((int)Result(results[1])["match_count"]!).ShouldBe(1);
        ((string)Result(results[2])["path"]!).ShouldBe("/workspace/done/todo.md");
        ((bool)Result(results[3])["exists"]!).ShouldBeFalse();

        // A read-only file refuses the model too; a delete goes through.
        results = await TurnAsync("""call write_file {"path":"locked.txt","content":"changed"} and call delete_file {"path":"done","recursive":true}""", 5);
        ((bool)results[0]["success"]!).ShouldBeFalse();
        ((string)results[0]["error"]!).ShouldContain("read-only");
        ((bool)results[1]["success"]!).ShouldBeTrue();
        ((string)(await _api.GetAsync($"/v1/sessions/{sessionId}/fs/locked.txt")).Object["content"]!).ShouldBe("do not touch");
        (await _api.GetAsync($"/v1/sessions/{sessionId}/fs/done")).ShouldBeProblem(HttpStatusCode.NotFound, "file_not_found");

        // Each change reaches the session's stream (sent with the change, appended right after it).
        await Eventually.Until(async () =>
        {
            var operations = (await _api.EventsAsync(sessionId, "?types=file.written")).Select(e => (string)e["data"]!["operation"]!).ToList();
            return operations.Contains("create") && operations.Contains("update") && operations.Contains("move") && operations.Contains("delete");
        });
    }
}

/// <summary>Quotas, on the API and the tools alike.</summary>
public sealed class WorkspaceQuotaTests
{
    [Fact]
    public async Task a_file_or_a_workspace_over_its_quota_is_refused_and_nothing_is_written()
    {
        await using var database = await TestDatabase.CreateAsync("everruns_quota");
        await using var host = await TestHost.StartAsync(database.Url, settings: new Dictionary<string, string>
        {
            ["WORKSPACE_FILE_SINGLE_MAX_BYTES"] = "1000", ["WORKSPACE_FILE_MAX_BYTES"] = "2500",
        });
        var api = new ApiClient(host.Server.CreateClient());
        var session = await api.PostAsync("/v1/sessions", new { capabilities = new[] { new { @ref = "session_file_system" } } });
        var sessionId = (string)session.Object["id"]!;
        var fs = $"/v1/sessions/{sessionId}/fs";

        (await api.PostAsync($"{fs}/big.txt", new { content = new string('x', 1001) })).ShouldBeProblem(HttpStatusCode.RequestEntityTooLarge, "file_too_large");
        (await api.PostAsync($"{fs}/a.txt", new { content = new string('a', 900) })).Status.ShouldBe(HttpStatusCode.Created);
        (await api.PostAsync($"{fs}/b.txt", new { content = new string('b', 900) })).Status.ShouldBe(HttpStatusCode.Created);
        (await api.PostAsync($"{fs}/c.txt", new { content = new string('c', 900) })).ShouldBeProblem(HttpStatusCode.UnprocessableEntity, "workspace_quota_exceeded");
        (await api.GetAsync($"{fs}/c.txt")).ShouldBeProblem(HttpStatusCode.NotFound, "file_not_found");

        // The model's write is held to the same quota: a failed call, nothing written.
        await api.PostMessageAsync(sessionId, $$"""call write_file {"path":"d.txt","content":"{{new string('d', 900)}}"}""");
        var events = await api.WaitForTurnsAsync(sessionId);
        var completed = events.Single(e => (string)e["type"]! == "tool.completed")["data"]!;
        ((string)completed["error"]!).ShouldContain("WORKSPACE_FILE_MAX_BYTES");
        (await api.GetAsync($"{fs}/d.txt")).ShouldBeProblem(HttpStatusCode.NotFound, "file_not_found");
    }
}

/// <summary>A file written through one instance is read, and streamed as file.written, through another.</summary>
public sealed class WorkspaceClusterTests
{
    [Fact]
    public async Task a_write_through_one_instance_is_read_and_streamed_through_another()
    {
        await using var cluster = await Infrastructure.Cluster.StartAsync(2, prefix: "everruns_ws_cluster");
        var (one, two) = (cluster.Api(0), cluster.Api(1));
        var sessionId = (string)(await one.CreateSessionAsync())["id"]!;
        await using var sse = await SseClient.OpenAsync(two.Http, $"/v1/sessions/{sessionId}/sse");
        (await sse.NextAsync()).Event.ShouldBe("connected");

        (await one.PostAsync($"/v1/sessions/{sessionId}/fs/report.md", new { content = "# findings" })).Status.ShouldBe(HttpStatusCode.Created);
        var written = (await sse.UntilAsync(f => f.Event == "file.written")).Last().Json["data"]!;
        ((string)written["path"]!).ShouldBe("/report.md");
        ((string)(await two.GetAsync($"/v1/sessions/{sessionId}/fs/report.md")).Object["content"]!).ShouldBe("# findings");
    }
}

/// <summary>The official TypeScript SDK's workspaces and initial-files examples, as the requests the SDK sends for them.</summary>
[Collection(AppCollection.Name)]
public sealed class SdkWorkspaceExampleTests(AppFixture app)
{
    private readonly ApiClient _api = app.Api;

    [Fact]
    public async Task the_workspaces_example_creates_writes_reads_lists_and_archives()
    {
        // client.workspaces.create({name, description})
        var workspace = await _api.PostAsync("/v1/workspaces", new { name = Names.Unique("workspaces-example-ts"), description = "Shared files for the team" });
        workspace.Status.ShouldBe(HttpStatusCode.Created, workspace.Text);
        var id = (string)workspace.Object["id"]!;
        // client.workspaceFiles.create(id, "/notes/welcome.md", content, {encoding: "text"}): the leading slash stripped
        (await _api.PostAsync($"/v1/workspaces/{id}/fs/notes/welcome.md",
            new { content = "# Welcome\n\nShared workspace files live here.\n", encoding = "text" })).Status.ShouldBe(HttpStatusCode.Created);
        // client.workspaceFiles.read(id, "/notes/welcome.md")
        var file = (await _api.GetAsync($"/v1/workspaces/{id}/fs/notes/welcome.md")).Object;
        ((string)file["path"]!).ShouldBe("/notes/welcome.md");
        ((string)file["content"]!).ShouldStartWith("# Welcome");
        // client.workspaceFiles.list(id, {recursive: true})
        var files = (await _api.GetAsync($"/v1/workspaces/{id}/fs?recursive=true")).Object["data"]!.AsArray();
        files.Select(f => (string)f!["path"]!).ShouldBe(["/notes", "/notes/welcome.md"]);
        // client.workspaces.delete(id)
        (await _api.DeleteAsync($"/v1/workspaces/{id}")).Status.ShouldBe(HttpStatusCode.NoContent);
    }

    [Fact]
    public async Task the_initial_files_example_opens_a_session_with_its_starter_files()
    {
        var agent = await _api.PostAsync("/v1/agents", new
        {
            name = Names.Unique("initial-files-example-ts"), system_prompt = "You are a helpful assistant. Read the starter files before answering.",
        });
        var session = await _api.PostAsync("/v1/sessions", new
        {
            agent_id = agent.Object["id"], title = "Session with starter files",
            initial_files = new object[]
            {
                new { path = "/workspace/README.md", content = "# Demo Project\n\nThis workspace contains starter files.\n", encoding = "text", is_readonly = true },
                new { path = "/workspace/src/app.py", content = "def greet(name: str) -> str:\n    return f\"hello, {name}\"\n", encoding = "text" },
            },
        });
        session.Status.ShouldBe(HttpStatusCode.Created, session.Text);
        var workspace = (string)session.Object["workspace_id"]!;
        var readme = (await _api.GetAsync($"/v1/workspaces/{workspace}/fs/README.md")).Object;
        ((bool)readme["is_readonly"]!).ShouldBeTrue();
        ((string)(await _api.GetAsync($"/v1/workspaces/{workspace}/fs/src/app.py")).Object["content"]!).ShouldContain("def greet");
        (await _api.PostMessageAsync((string)session.Object["id"]!, "Summarize the project and suggest one improvement to src/app.py."))["id"].ShouldNotBeNull();
    }
}

/// <summary>Memories: an org's durable files that sessions mount, read-only unless asked.</summary>
[Collection(AppCollection.Name)]
public sealed class MemoriesTests(AppFixture app)
{
    private readonly ApiClient _api = app.Api;

    [Fact]
    public async Task the_sdk_memories_example_creates_a_memory_adds_a_file_greps_lists_and_archives()
    {
        // client.memories.create({name, description})
        var memory = await _api.PostAsync("/v1/memories", new { name = Names.Unique("memories-example-ts"), description = "Long-term knowledge for the agent" });
        memory.Status.ShouldBe(HttpStatusCode.Created, memory.Text);
        var id = (string)memory.Object["id"]!;
        id.ShouldMatch("^mem_[0-9a-f]{32}$");
        ((string)memory.Object["source_type"]!).ShouldBe("manual");
        // client.memories.createFile(id, "/facts/product.md", {content, encoding: "text"})
        (await _api.PostAsync($"/v1/memories/{id}/fs/facts/product.md",
            new { content = "# Product\n\nEverruns runs autonomous agents.\n", encoding = "text" })).Status.ShouldBe(HttpStatusCode.Created);
        // client.memories.grepFiles(id, "agents")
        var found = (await _api.PostAsync($"/v1/memories/{id}/fs/_/grep", new { pattern = "agents" })).Object["data"]!.AsArray();
        found.Select(f => (string)f!["path"]!).ShouldBe(["/facts/product.md"]);
        // client.memories.listFiles(id)
        (await _api.GetAsync($"/v1/memories/{id}/fs")).Object["data"]!.AsArray().Select(f => (string)f!["path"]!).ShouldBe(["/facts"]);
        // client.memories.delete(id): archived, its files read-only
        (await _api.DeleteAsync($"/v1/memories/{id}")).Status.ShouldBe(HttpStatusCode.NoContent);
        ((string)(await _api.GetAsync($"/v1/memories/{id}")).Object["status"]!).ShouldBe("archived");
        (await _api.PutAsync($"/v1/memories/{id}/fs/facts/product.md", new { content = "changed" })).ShouldBeProblem(HttpStatusCode.Forbidden, "memory_archived");
    }

    [Fact]
    public async Task memories_have_unique_names_no_git_sources_and_are_the_orgs()
    {
        var name = Names.Unique("kb");
        var memory = await _api.PostAsync("/v1/memories", new { name });
        (await _api.PostAsync("/v1/memories", new { name })).ShouldBeProblem(HttpStatusCode.Conflict, "memory_name_taken");
        var git = await _api.PostAsync("/v1/memories", new { name = name + "-git", source = new { type = "github", repository = "everruns/docs" } });
        git.ShouldBeProblem(HttpStatusCode.BadRequest, "unsupported_field");
        (await _api.PostAsync($"/v1/memories/{memory.Object["id"]}/sync")).Status.ShouldBe(HttpStatusCode.OK);
        var (_, _, stranger) = await TenancyTests.NewOrgAsync(app, Names.Unique("memorg"));
        (await stranger.GetAsync($"/v1/memories/{memory.Object["id"]}")).ShouldBeProblem(HttpStatusCode.NotFound, "memory_not_found");
        (await stranger.GetAsync($"/v1/memories/{memory.Object["id"]}/fs")).ShouldBeProblem(HttpStatusCode.NotFound, "memory_not_found");
    }

    [Fact]
    public async Task a_memory_mounted_read_only_refuses_writes_by_the_api_alias_and_the_model_and_a_readwrite_mount_writes_through()
    {
        var kb = (string)(await _api.PostAsync("/v1/memories", new { name = Names.Unique("kb") })).Object["id"]!;
        var notes = (string)(await _api.PostAsync("/v1/memories", new { name = Names.Unique("notes") })).Object["id"]!;
        (await _api.PostAsync($"/v1/memories/{kb}/fs/facts.md", new { content = "the sky is blue" })).Status.ShouldBe(HttpStatusCode.Created);

        var session = await _api.PostAsync("/v1/sessions", new
        {
            capabilities = new object[]
            {
                new { @ref = "session_file_system" },
                new { @ref = "memory", config = new { mounts = new object[]
                {
                    new { memory = kb, path = "/workspace/kb" }, new { memory = notes, path = "/notes", mode = "readwrite" },
                } } },
            },
        });
        session.Status.ShouldBe(HttpStatusCode.Created, session.Text);
        var sessionId = (string)session.Object["id"]!;
        var alias = $"/v1/sessions/{sessionId}/fs";

        ((string)(await _api.GetAsync($"{alias}/kb/facts.md")).Object["content"]!).ShouldBe("the sky is blue");
        (await _api.GetAsync(alias)).Object["data"]!.AsArray().Select(e => (string)e!["path"]!).ShouldContain("/kb");
        (await _api.PutAsync($"{alias}/kb/facts.md", new { content = "the sky is green" })).ShouldBeProblem(HttpStatusCode.Forbidden, "memory_readonly");
        (await _api.PostAsync($"{alias}/kb/new.md", new { content = "x" })).ShouldBeProblem(HttpStatusCode.Forbidden, "memory_readonly");

        await _api.PostMessageAsync(sessionId, """call read_file {"path":"/workspace/kb/facts.md"} and call write_file {"path":"/workspace/kb/facts.md","content":"green"} and call write_file {"path":"/workspace/notes/today.md","content":"met the team"}""");
        var events = await _api.WaitForTurnsAsync(sessionId);
        var results = events.Where(e => (string)e["type"]! == "tool.completed").Select(e => e["data"]!).ToList();
        ((bool)results[0]["success"]!).ShouldBeTrue();
        ((string)results[1]["error"]!).ShouldContain("mounted read-only");
        ((bool)results[2]["success"]!).ShouldBeTrue(results[2].ToJsonString());

        ((string)(await _api.GetAsync($"/v1/memories/{kb}/fs/facts.md")).Object["content"]!).ShouldBe("the sky is blue");
        ((string)(await _api.GetAsync($"/v1/memories/{notes}/fs/today.md")).Object["content"]!).ShouldBe("met the team");

        // Mounts are checked when the session opens.
        (await _api.PostAsync("/v1/sessions", new { capabilities = new[] { new { @ref = "memory", config = new { mounts = new[] { new { memory = $"mem_{Guid.NewGuid():N}", path = "/kb" } } } } } }))
            .ShouldBeProblem(HttpStatusCode.NotFound, "memory_not_found");
        (await _api.PostAsync("/v1/sessions", new { capabilities = new[] { new { @ref = "memory", config = new { mounts = new[] { new { memory = kb, path = "/kb", mode = "admin" } } } } } }))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_capability_config");
    }
}
