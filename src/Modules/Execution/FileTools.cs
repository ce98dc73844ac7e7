using System.Text;
using System.Text.Json.Nodes;
using Everruns.Contracts;
using Everruns.Infrastructure;

namespace Everruns.Modules.Execution;

/// <summary>
/// The <c>session_file_system</c> capability: the model's tools over its session's workspace, paths under <c>/workspace</c>.
/// They run when the tools step commits, under the session's lock and in its transaction (see <see cref="FinishTools"/>):
/// a call's change and its <c>tool.completed</c> commit together, a step run again after a crash finds neither, and a
/// turn cancelled meanwhile changes nothing. Each change also sends <c>file.written</c> to the sessions of the workspace.
/// </summary>
public static class FileTools
{
    private const string Mount = "/workspace";

    public static IEnumerable<BuiltInTool> All(IWorkspaceFiles files) =>
    [
        Tool("read_file", "Reads a text file of the workspace (lines from offset, at most limit); returns its content_hash, which edit_file needs.",
            """{"type":"object","properties":{"path":{"type":"string"},"offset":{"type":"integer","minimum":0},"limit":{"type":"integer","minimum":1}},"required":["path"],"additionalProperties":false}""",
            async (a, c, ct) =>
            {
                var entry = Ok(await files.ReadAsync(c.Connection!, c.OrgId, Workspace(c), Tools.Required(a, "path"), ct)).Entry!;
                var content = entry.Content ?? [];
                var result = new JsonObject { ["path"] = Shown(entry.Path), ["size_bytes"] = entry.SizeBytes, ["content_hash"] = entry.ContentHash };
                if (!WorkspaceText.IsText(content))
                {
                    result["content_type"] = "binary";
                    result["note"] = "not text: its bytes are not shown";
                    return result.ToJsonString();
                }

                var lines = Encoding.UTF8.GetString(content).Split('\n');
                var offset = Math.Min((int?)a["offset"] ?? 0, lines.Length);
                var limit = (int?)a["limit"] ?? 2000;
                var shown = lines.Skip(offset).Take(limit).ToArray();
                result["content"] = string.Join('\n', shown);
                result["total_lines"] = lines.Length;
                result["lines_shown"] = new JsonObject { ["start"] = offset + 1, ["end"] = offset + shown.Length };
                result["truncated"] = offset + shown.Length < lines.Length;
                return result.ToJsonString();
            }),
        Tool("write_file", "Creates or replaces a file of the workspace (parent directories are made); content is text, or base64 with encoding \"base64\".",
            """{"type":"object","properties":{"path":{"type":"string"},"content":{"type":"string"},"encoding":{"type":"string","enum":["text","base64"]}},"required":["path","content"],"additionalProperties":false}""",
            async (a, c, ct) =>
            {
                var content = Decode(a);
                var outcome = Ok(await files.WriteAsync(c.Connection!, c.OrgId, Workspace(c), Tools.Required(a, "path"), content, WriteMode.Upsert, ct: ct));
                c.Changed(outcome, outcome.Created ? "create" : "update");
                return new JsonObject
                {
                    ["path"] = Shown(outcome.Entry!.Path), ["size_bytes"] = outcome.Entry.SizeBytes, ["created"] = outcome.Created,
                    ["content_hash"] = outcome.Entry.ContentHash,
                }.ToJsonString();
            }),
        Tool("edit_file", "Replaces exact text in a text file: each old_text must occur exactly once; expected_hash is the content_hash read_file gave (a file changed since is refused).",
            """{"type":"object","properties":{"path":{"type":"string"},"expected_hash":{"type":"string"},"edits":{"type":"array","minItems":1,"items":{"type":"object","properties":{"old_text":{"type":"string"},"new_text":{"type":"string"}},"required":["old_text","new_text"]}}},"required":["path","expected_hash","edits"],"additionalProperties":false}""",
            async (a, c, ct) =>
            {
                var path = Tools.Required(a, "path");
                var expected = Tools.Required(a, "expected_hash");
                var entry = Ok(await files.ReadAsync(c.Connection!, c.OrgId, Workspace(c), path, ct)).Entry!;
                if (!WorkspaceText.IsText(entry.Content ?? [])) throw new ArgumentException($"{Shown(entry.Path)} is not text: replace it with write_file");
                if (entry.ContentHash != expected)
                    throw new ArgumentException($"{Shown(entry.Path)} changed since it was read: expected {expected}, found {entry.ContentHash}; read it again");
                var text = Encoding.UTF8.GetString(entry.Content!);
                var edits = a["edits"] as JsonArray ?? throw new ArgumentException("edits (a list of {old_text, new_text}) is required");
                foreach (var edit in edits)
                {
                    var oldText = (string?)edit?["old_text"] ?? throw new ArgumentException("each edit needs old_text");
                    var newText = (string?)edit?["new_text"] ?? throw new ArgumentException("each edit needs new_text");
                    var at = oldText.Length == 0 ? -1 : text.IndexOf(oldText, StringComparison.Ordinal);
                    if (at < 0) throw new ArgumentException($"old_text not found in {Shown(entry.Path)}: '{Preview(oldText)}'");
                    if (text.IndexOf(oldText, at + 1, StringComparison.Ordinal) >= 0)
                        throw new ArgumentException($"old_text occurs more than once in {Shown(entry.Path)}: give more context ('{Preview(oldText)}')");
                    text = string.Concat(text.AsSpan(0, at), newText, text.AsSpan(at + oldText.Length));
                }

                var outcome = Ok(await files.WriteAsync(c.Connection!, c.OrgId, Workspace(c), path, Encoding.UTF8.GetBytes(text), WriteMode.Replace,
                    expectedHash: expected, ct: ct));
                c.Changed(outcome, "update");
                return new JsonObject
                {
                    ["path"] = Shown(outcome.Entry!.Path), ["size_bytes"] = outcome.Entry.SizeBytes, ["content_hash"] = outcome.Entry.ContentHash,
                    ["previous_content_hash"] = expected, ["applied_edits"] = edits.Count,
                }.ToJsonString();
            }),
        Tool("list_directory", "Lists a directory of the workspace (default /workspace).",
            """{"type":"object","properties":{"path":{"type":"string"}},"additionalProperties":false}""",
            async (a, c, ct) =>
            {
                var path = (string?)a["path"] ?? Mount;
                var listed = Ok(await files.ListAsync(c.Connection!, c.OrgId, Workspace(c), path, false, ct)).Entries!;
                return new JsonObject
                {
                    ["path"] = path,
                    ["entries"] = new JsonArray(listed.Select(e => (JsonNode)new JsonObject
                    {
                        ["name"] = e.Name, ["path"] = Shown(e.Path), ["is_directory"] = e.IsDirectory, ["size_bytes"] = e.SizeBytes,
                        ["is_readonly"] = e.IsReadonly,
                    }).ToArray()),
                    ["count"] = listed.Count,
                }.ToJsonString();
            }),
        Tool("grep_files", "Finds the lines of the workspace's text files that match a regular expression (path_pattern: a glob such as *.md, or a regex).",
            """{"type":"object","properties":{"pattern":{"type":"string"},"path_pattern":{"type":"string"}},"required":["pattern"],"additionalProperties":false}""",
            async (a, c, ct) =>
            {
                var hits = Ok(await files.GrepAsync(c.Connection!, c.OrgId, Workspace(c), Tools.Required(a, "pattern"), (string?)a["path_pattern"], ct)).Hits!;
                return new JsonObject
                {
                    ["pattern"] = (string?)a["pattern"],
                    ["matches"] = new JsonArray(hits.Select(h => (JsonNode)new JsonObject
                        { ["path"] = Shown(h.Path), ["line_number"] = h.LineNumber, ["line"] = h.Line }).ToArray()),
                    ["match_count"] = hits.Count,
                }.ToJsonString();
            }),
        Tool("delete_file", "Deletes a file, or a directory (recursive: true when it is not empty).",
            """{"type":"object","properties":{"path":{"type":"string"},"recursive":{"type":"boolean"}},"required":["path"],"additionalProperties":false}""",
            async (a, c, ct) =>
            {
                var outcome = Ok(await files.DeleteAsync(c.Connection!, c.OrgId, Workspace(c), Tools.Required(a, "path"), (bool?)a["recursive"] ?? false, ct));
                c.Changed(outcome, "delete");
                return new JsonObject { ["path"] = Shown(outcome.Entry!.Path), ["deleted"] = true }.ToJsonString();
            }),
        Tool("move_file", "Moves (renames) a file or directory of the workspace.",
            """{"type":"object","properties":{"src_path":{"type":"string"},"dst_path":{"type":"string"}},"required":["src_path","dst_path"],"additionalProperties":false}""",
            async (a, c, ct) =>
            {
                var outcome = Ok(await files.MoveAsync(c.Connection!, c.OrgId, Workspace(c), Tools.Required(a, "src_path"), Tools.Required(a, "dst_path"), false, ct));
                c.Changed(outcome, "move");
                return new JsonObject { ["src_path"] = (string?)a["src_path"], ["path"] = Shown(outcome.Entry!.Path), ["moved"] = true }.ToJsonString();
            }),
        Tool("stat_file", "Tells whether a path of the workspace exists, and what it is.",
            """{"type":"object","properties":{"path":{"type":"string"}},"required":["path"],"additionalProperties":false}""",
            async (a, c, ct) =>
            {
                var path = Tools.Required(a, "path");
                var stat = await files.StatAsync(c.Connection!, c.OrgId, Workspace(c), path, ct);
                if (stat.Code == "file_not_found") return new JsonObject { ["path"] = path, ["exists"] = false }.ToJsonString();
                var e = Ok(stat).Entry!;
                return new JsonObject
                {
                    ["path"] = Shown(e.Path), ["name"] = e.Name, ["exists"] = true, ["is_directory"] = e.IsDirectory, ["is_readonly"] = e.IsReadonly,
                    ["size_bytes"] = e.SizeBytes, ["updated_at"] = e.UpdatedAt.ToString("O"),
                }.ToJsonString();
            }),
    ];

    private static BuiltInTool Tool(string name, string description, string schema, Func<JsonObject, ToolContext, CancellationToken, Task<string>> run) =>
        new(name, BuiltInCapabilities.SessionFileSystem, Tools.Declare(name, description, schema), run) { Transactional = true };

    private static FileScope Workspace(ToolContext context) =>
        new(context.WorkspaceId ?? throw new ArgumentException("this session has no workspace (it was opened before workspaces existed)"), context.Mounts);

    private static FileOutcome Ok(FileOutcome outcome) => outcome.Ok ? outcome : throw new ArgumentException(outcome.Message);

    private static string Shown(string path) => path == "/" ? Mount : Mount + path;

    private static string Preview(string text) => text.Length <= 60 ? text : text[..60] + "…";

    private static byte[] Decode(JsonObject arguments)
    {
        var content = (string?)arguments["content"] ?? throw new ArgumentException("the argument 'content' (a string) is required");
        return WorkspaceText.Decode(content, (string?)arguments["encoding"] is "base64" ? "base64" : "text")
               ?? throw new ArgumentException("content is not valid base64");
    }
}
