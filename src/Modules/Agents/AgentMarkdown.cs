using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Everruns.Contracts;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.RepresentationModel;

namespace Everruns.Modules.Agents;

/// <summary>An agent as a file: what <see cref="AgentMarkdown.Parse"/> read, each key with the line it was on.</summary>
public sealed class AgentFile
{
    public string? Id { get; set; }
    public string? Name { get; set; }
    public string? DisplayName { get; set; }
    public string? Description { get; set; }
    public string? SystemPrompt { get; set; }
    public string? DefaultModelId { get; set; }
    public string? HarnessId { get; set; }
    public string? HarnessName { get; set; }
    public List<string?>? Tags { get; set; }
    public List<CapabilityRef?>? Capabilities { get; set; }
    public List<InitialFile?>? InitialFiles { get; set; }
    public List<ClientToolDefinition?>? Tools { get; set; }
    public int? MaxIterations { get; set; }
    public bool? ParallelToolCalls { get; set; }

    /// <summary>The file's line of each key (1-based), to point a refusal at it.</summary>
    public Dictionary<string, int> Lines { get; } = [];
}

/// <summary>A file that cannot be read as an agent: what is wrong and on which line (1-based; null when it is not about one).</summary>
public sealed class AgentFileException(string message, int? line) : Exception(message)
{
    public int? Line { get; } = line;
}

/// <summary>
/// An agent as one Markdown file: YAML front matter (its settings, written and read with YamlDotNet) between <c>---</c>
/// lines, then its system prompt, byte for byte, as the body. Export, import and export again gives the same bytes.
/// Import also takes JSON or YAML of the same keys (with <c>system_prompt</c>), or plain text (the system prompt).
/// </summary>
public static class AgentMarkdown
{
    private const string Fence = "---";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    private static readonly string[] Keys =
    [
        "id", "name", "display_name", "description", "system_prompt", "default_model_id", "harness_id", "harness_name", "tags",
        "capabilities", "initial_files", "tools", "max_iterations", "parallel_tool_calls",
    ];

    // ---------------------------------------------------------------------------------------------------------------
    // Export

    public static string Write(Agent agent)
    {
        var yaml = new StringWriter(CultureInfo.InvariantCulture) { NewLine = "\n" };
        var emitter = new Emitter(yaml, 2, int.MaxValue); // no folding: one line per value
        emitter.Emit(new StreamStart());
        emitter.Emit(new DocumentStart(null, null, true));
        emitter.Emit(new MappingStart(AnchorName.Empty, TagName.Empty, true, MappingStyle.Block));

        void Key(string key) => emitter.Emit(new Scalar(AnchorName.Empty, TagName.Empty, key, ScalarStyle.Plain, true, false));
        void Text(string key, string? value)
        {
            if (string.IsNullOrEmpty(value)) return;
            Key(key);
            emitter.Emit(Quoted(value));
        }

        Text("id", agent.Id);
        Text("name", agent.Name);
        Text("display_name", agent.DisplayName);
        Text("description", agent.Description);
        Text("default_model_id", agent.DefaultModelId);
        Text("harness_id", agent.HarnessId);
        if (agent.Tags.Count > 0)
        {
            Key("tags");
            emitter.Emit(new SequenceStart(AnchorName.Empty, TagName.Empty, true, SequenceStyle.Block));
            foreach (var tag in agent.Tags) emitter.Emit(Quoted(tag));
            emitter.Emit(new SequenceEnd());
        }

        if (agent.Capabilities.Count > 0)
        {
            Key("capabilities");
            emitter.Emit(new SequenceStart(AnchorName.Empty, TagName.Empty, true, SequenceStyle.Block));
            foreach (var capability in agent.Capabilities)
            {
                emitter.Emit(new MappingStart(AnchorName.Empty, TagName.Empty, true, MappingStyle.Block));
                Key("ref");
                emitter.Emit(Quoted(capability.Ref));
                if (capability.Config is not null)
                {
                    Key("config");
                    EmitJson(emitter, capability.Config);
                }

                emitter.Emit(new MappingEnd());
            }

            emitter.Emit(new SequenceEnd());
        }

        if (agent.InitialFiles.Count > 0)
        {
            Key("initial_files");
            emitter.Emit(new SequenceStart(AnchorName.Empty, TagName.Empty, true, SequenceStyle.Block));
            foreach (var file in agent.InitialFiles)
            {
                emitter.Emit(new MappingStart(AnchorName.Empty, TagName.Empty, true, MappingStyle.Block));
                Text("path", file.Path);
                Text("encoding", file.Encoding);
                if (file.IsReadonly is { } readOnly)
                {
                    Key("is_readonly");
                    emitter.Emit(Plain(readOnly ? "true" : "false"));
                }

                Key("content");
                emitter.Emit(Quoted(file.Content ?? ""));
                emitter.Emit(new MappingEnd());
            }

            emitter.Emit(new SequenceEnd());
        }

        if (agent.Tools.Count > 0)
        {
            Key("tools");
            emitter.Emit(new SequenceStart(AnchorName.Empty, TagName.Empty, true, SequenceStyle.Block));
            foreach (var tool in agent.Tools) EmitJson(emitter, JsonSerializer.SerializeToNode(tool, Json)!);
            emitter.Emit(new SequenceEnd());
        }

        if (agent.MaxIterations is { } max)
        {
            Key("max_iterations");
            emitter.Emit(Plain(max.ToString(CultureInfo.InvariantCulture)));
        }

        if (agent.ParallelToolCalls is { } parallel)
        {
            Key("parallel_tool_calls");
            emitter.Emit(Plain(parallel ? "true" : "false"));
        }

        emitter.Emit(new MappingEnd());
        emitter.Emit(new DocumentEnd(true));
        emitter.Emit(new StreamEnd());

        var front = yaml.ToString();
        if (!front.EndsWith('\n')) front += "\n";
        return Fence + "\n" + front + Fence + "\n" + agent.SystemPrompt;
    }

    private static Scalar Quoted(string value) => new(AnchorName.Empty, TagName.Empty, value, ScalarStyle.DoubleQuoted, false, true);

    private static Scalar Plain(string value) => new(AnchorName.Empty, TagName.Empty, value, ScalarStyle.Plain, true, false);

    /// <summary>JSON as YAML in flow style (<c>{a: 1, b: "x"}</c>): read back, it is the same JSON.</summary>
    private static void EmitJson(IEmitter emitter, JsonNode? node)
    {
        switch (node)
        {
            case null:
                emitter.Emit(Plain("null"));
                break;
            case JsonObject o:
                emitter.Emit(new MappingStart(AnchorName.Empty, TagName.Empty, true, MappingStyle.Flow));
                foreach (var (key, value) in o)
                {
                    emitter.Emit(Quoted(key));
                    EmitJson(emitter, value);
                }

                emitter.Emit(new MappingEnd());
                break;
            case JsonArray a:
                emitter.Emit(new SequenceStart(AnchorName.Empty, TagName.Empty, true, SequenceStyle.Flow));
                foreach (var item in a) EmitJson(emitter, item);
                emitter.Emit(new SequenceEnd());
                break;
            default:
                var element = node.GetValue<JsonElement>();
                emitter.Emit(element.ValueKind == JsonValueKind.String ? Quoted(element.GetString()!) : Plain(element.GetRawText()));
                break;
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Import

    /// <summary>Reads an agent file; <see cref="AgentFileException"/> names what is wrong and its line.</summary>
    public static AgentFile Parse(string text)
    {
        var start = text.AsSpan().TrimStart();
        if (start.StartsWith(Fence))
        {
            var offset = text.Length - start.Length;
            var linesBefore = CountLines(text.AsSpan(0, offset));
            var afterOpening = text.IndexOf('\n', offset);
            if (afterOpening < 0 || text.AsSpan(offset, afterOpening - offset).TrimEnd('\r').ToString() != Fence)
                throw new AgentFileException("the front matter's opening line must be '---' alone", linesBefore + 1);
            var (yamlEnd, bodyStart) = ClosingFence(text, afterOpening + 1)
                ?? throw new AgentFileException("the front matter is not closed: add a line '---' after it, before the system prompt", linesBefore + 1);
            var file = ReadYaml(text[(afterOpening + 1)..yamlEnd], linesBefore + 1);
            var body = text[bodyStart..];
            if (body.Trim().Length > 0)
            {
                if (file.SystemPrompt is not null)
                    throw new AgentFileException("the system prompt is given twice: as 'system_prompt' and as the text after the front matter; keep one",
                        file.Lines["system_prompt"]);
                file.SystemPrompt = body;
            }

            return file;
        }

        if (start.StartsWith("{")) return ReadYaml(text, 0, requireMapping: true); // JSON is YAML
        try
        {
            var file = ReadYaml(text, 0, requireMapping: true);
            if (file.Name is not null || file.SystemPrompt is not null) return file;
        }
        catch (AgentFileException)
        {
            // Not YAML of an agent: the text is its system prompt.
        }

        return new AgentFile { SystemPrompt = text };
    }

    /// <summary>The end of the YAML and the start of the body: the first line that is '---' alone.</summary>
    private static (int YamlEnd, int BodyStart)? ClosingFence(string text, int from)
    {
        var at = from;
        while (at <= text.Length)
        {
            var end = text.IndexOf('\n', at);
            var line = (end < 0 ? text.AsSpan(at) : text.AsSpan(at, end - at)).TrimEnd('\r');
            if (line.SequenceEqual(Fence)) return (at, end < 0 ? text.Length : end + 1);
            if (end < 0) return null;
            at = end + 1;
        }

        return null;
    }

    private static int CountLines(ReadOnlySpan<char> text) => text.Count('\n');

    private static AgentFile ReadYaml(string yaml, int lineOffset, bool requireMapping = false)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException e)
        {
            throw new AgentFileException($"not valid YAML: {Reason(e)}", (int)e.Start.Line + lineOffset);
        }

        var file = new AgentFile();
        if (stream.Documents.Count == 0)
        {
            if (requireMapping) throw new AgentFileException("the file is empty", null);
            return file;
        }

        if (stream.Documents[0].RootNode is not YamlMappingNode root)
            throw new AgentFileException("the settings must be a mapping of keys (like 'name: my-agent')",
                (int)stream.Documents[0].RootNode.Start.Line + lineOffset);

        int Line(YamlNode node) => (int)node.Start.Line + lineOffset;
        foreach (var (keyNode, value) in root.Children)
        {
            var key = (keyNode as YamlScalarNode)?.Value ?? throw new AgentFileException("keys must be plain names", Line(keyNode));
            var line = Line(keyNode);
            if (file.Lines.ContainsKey(key)) throw new AgentFileException($"'{key}' is given twice", line);
            file.Lines[key] = line;
            switch (key)
            {
                case "id": file.Id = Text(value, key, lineOffset); break;
                case "name": file.Name = Text(value, key, lineOffset); break;
                case "display_name": file.DisplayName = Text(value, key, lineOffset); break;
                case "description": file.Description = Text(value, key, lineOffset); break;
                case "system_prompt": file.SystemPrompt = Text(value, key, lineOffset); break;
                case "default_model_id" or "model": file.DefaultModelId = Text(value, key, lineOffset); break;
                case "harness_id": file.HarnessId = Text(value, key, lineOffset); break;
                case "harness_name": file.HarnessName = Text(value, key, lineOffset); break;
                case "tags": file.Tags = Items(value, key, lineOffset).Select(n => (string?)Text(n, key, lineOffset)).ToList(); break;
                case "capabilities":
                    file.Capabilities = Items(value, key, lineOffset).Select(n => n is YamlScalarNode s
                        ? new CapabilityRef(s.Value ?? "")
                        : (CapabilityRef?)As<CapabilityRef>(n, key, lineOffset)).ToList();
                    break;
                case "initial_files": file.InitialFiles = Items(value, key, lineOffset).Select(n => (InitialFile?)As<InitialFile>(n, key, lineOffset)).ToList(); break;
                case "tools": file.Tools = Items(value, key, lineOffset).Select(n => (ClientToolDefinition?)As<ClientToolDefinition>(n, key, lineOffset)).ToList(); break;
                case "max_iterations":
                    file.MaxIterations = value is YamlScalarNode { Style: ScalarStyle.Plain } n && int.TryParse(n.Value, CultureInfo.InvariantCulture, out var i)
                        ? i
                        : throw new AgentFileException("max_iterations must be a whole number", Line(value));
                    break;
                case "parallel_tool_calls":
                    file.ParallelToolCalls = value is YamlScalarNode { Style: ScalarStyle.Plain, Value: "true" or "false" } b
                        ? b.Value == "true"
                        : throw new AgentFileException("parallel_tool_calls must be true or false", Line(value));
                    break;
                case "mcpServers" or "mcp_servers" or "network_access":
                    throw new AgentFileException($"'{key}' is not supported by this server: leave it out", line);
                default:
                    throw new AgentFileException($"unknown key '{key}' (known: {string.Join(", ", Keys)})", line);
            }
        }

        return file;
    }

    private static string Reason(YamlException e)
    {
        // YamlDotNet's message starts with the position; the line is reported on its own.
        var message = e.Message;
        var close = message.IndexOf("): ", StringComparison.Ordinal);
        return close >= 0 && message.StartsWith('(') ? message[(close + 3)..] : message;
    }

    private static string Text(YamlNode node, string key, int lineOffset) =>
        node is YamlScalarNode { Value: { } value } scalar && !(scalar.Style == ScalarStyle.Plain && value is "null" or "~")
            ? value
            : throw new AgentFileException($"{key} must be text", (int)node.Start.Line + lineOffset);

    private static IEnumerable<YamlNode> Items(YamlNode node, string key, int lineOffset) =>
        node as YamlSequenceNode ?? throw new AgentFileException($"{key} must be a list", (int)node.Start.Line + lineOffset);

    private static T As<T>(YamlNode node, string key, int lineOffset)
    {
        if (node is not YamlMappingNode) throw new AgentFileException($"each of {key} must be a mapping", (int)node.Start.Line + lineOffset);
        try
        {
            return ToJson(node).Deserialize<T>(Json) ?? throw new JsonException("empty");
        }
        catch (JsonException e)
        {
            throw new AgentFileException($"an entry of {key} is malformed: {e.Message.Split(" Path:")[0]}", (int)node.Start.Line + lineOffset);
        }
    }

    /// <summary>YAML as JSON: mappings and lists as such, quoted scalars as strings, plain ones as what they spell.</summary>
    private static JsonNode? ToJson(YamlNode node) => node switch
    {
        YamlMappingNode m => new JsonObject(m.Children.Select(p => KeyValuePair.Create(((YamlScalarNode)p.Key).Value ?? "", ToJson(p.Value)))),
        YamlSequenceNode s => new JsonArray(s.Children.Select(ToJson).ToArray()),
        YamlScalarNode { Style: ScalarStyle.Plain } p => p.Value switch
        {
            null or "null" or "~" or "" => null,
            "true" => JsonValue.Create(true),
            "false" => JsonValue.Create(false),
            var v when IsNumber(v) => JsonNode.Parse(v),
            var v => JsonValue.Create(v),
        },
        YamlScalarNode q => JsonValue.Create(q.Value ?? ""),
        _ => null,
    };

    private static bool IsNumber(string value)
    {
        try
        {
            return JsonNode.Parse(value) is JsonValue v && v.GetValueKind() == JsonValueKind.Number;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>The file name an agent exports under.</summary>
    public static string FileName(Agent agent) => $"{agent.Name}.md";

    public static Encoding Utf8 { get; } = new UTF8Encoding(false);
}
