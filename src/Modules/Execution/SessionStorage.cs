using System.Text.Json.Nodes;
using Everruns.Contracts;
using Everruns.Infrastructure;
using Marten;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Wolverine.Http;

namespace Everruns.Modules.Execution;

/// <summary>A value the <c>session_storage</c> tools keep for a session, under its key (document id: session id, ':', key).</summary>
public sealed class StoredValue
{
    public string Id { get; set; } = "";
    public string SessionId { get; set; } = "";
    public string Key { get; set; } = "";
    public string Value { get; set; } = "";
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }

    public static string IdOf(string sessionId, string key) => $"{sessionId}:{key}";
}

/// <summary>
/// The <c>session_storage</c> capability: a key-value store per session that the model reads and writes
/// (<c>storage_set</c>, <c>storage_get</c>, <c>storage_list</c>, <c>storage_delete</c>), kept in PostgreSQL. A write commits
/// in the transaction of the call's <c>tool.completed</c> (the tools step's): a step run again after a crash finds
/// neither, and a turn cancelled meanwhile writes neither. <c>GET /v1/sessions/{id}/storage/keys</c> reads it.
/// </summary>
public static class SessionStorage
{
    public const int MaxKeyLength = 256;
    public const int MaxValueBytes = 64 * 1024;
    public const int MaxKeys = 1000;

    public static IEnumerable<BuiltInTool> Tools() =>
    [
        new("storage_set", BuiltInCapabilities.SessionStorage, Execution.Tools.Declare("storage_set",
                "Stores a text value under a key in this session's storage (replacing any value there); it stays for the session's later turns.",
                """{"type":"object","properties":{"key":{"type":"string"},"value":{"type":"string"}},"required":["key","value"]}"""),
            SetAsync),
        new("storage_get", BuiltInCapabilities.SessionStorage, Execution.Tools.Declare("storage_get",
                "Reads the value stored under a key in this session's storage.",
                """{"type":"object","properties":{"key":{"type":"string"}},"required":["key"]}"""),
            GetAsync),
        new("storage_list", BuiltInCapabilities.SessionStorage, Execution.Tools.Declare("storage_list",
                "Lists the keys in this session's storage, optionally only those starting with a prefix.",
                """{"type":"object","properties":{"prefix":{"type":"string"}}}"""),
            ListAsync),
        new("storage_delete", BuiltInCapabilities.SessionStorage, Execution.Tools.Declare("storage_delete",
                "Deletes a key (and its value) from this session's storage.",
                """{"type":"object","properties":{"key":{"type":"string"}},"required":["key"]}"""),
            DeleteAsync),
    ];

    private static string Key(JsonObject arguments)
    {
        var key = Execution.Tools.Required(arguments, "key");
        return key.Length <= MaxKeyLength ? key : throw new ArgumentException($"a key is at most {MaxKeyLength} characters");
    }

    private static async Task<StoredValue?> FindAsync(ToolContext context, string key, CancellationToken ct) =>
        context.Storage.TryGetValue(key, out var pending)
            ? pending
            : await context.Documents.LoadAsync<StoredValue>(StoredValue.IdOf(context.SessionId, key), ct);

    private static async Task<string> SetAsync(JsonObject arguments, ToolContext context, CancellationToken ct)
    {
        var key = Key(arguments);
        // A string as it is; anything else the model sends as JSON text.
        var value = arguments["value"] switch
        {
            JsonValue v when v.TryGetValue<string>(out var text) => text,
            null => throw new ArgumentException("the argument 'value' is required"),
            var other => other.ToJsonString(),
        };
        if (System.Text.Encoding.UTF8.GetByteCount(value) > MaxValueBytes)
            throw new ArgumentException($"a value is at most {MaxValueBytes} bytes");

        var now = DateTimeOffset.UtcNow;
        var existing = await FindAsync(context, key, ct);
        if (existing is null)
        {
            var count = await context.Documents.Query<StoredValue>().CountAsync(v => v.SessionId == context.SessionId, ct)
                        + context.Storage.Count(p => p.Value is not null);
            if (count >= MaxKeys) throw new ArgumentException($"the session's storage holds at most {MaxKeys} keys; delete some first");
        }

        var stored = new StoredValue
        {
            Id = StoredValue.IdOf(context.SessionId, key), SessionId = context.SessionId, Key = key, Value = value,
            CreatedAt = existing?.CreatedAt ?? now, UpdatedAt = now,
        };
        context.Documents.Store(stored);
        context.Storage[key] = stored;
        return new JsonObject { ["key"] = key, ["stored"] = true, ["replaced"] = existing is not null }.ToJsonString();
    }

    private static async Task<string> GetAsync(JsonObject arguments, ToolContext context, CancellationToken ct)
    {
        var key = Key(arguments);
        var stored = await FindAsync(context, key, ct);
        return new JsonObject { ["key"] = key, ["found"] = stored is not null, ["value"] = stored?.Value }.ToJsonString();
    }

    private static async Task<string> ListAsync(JsonObject arguments, ToolContext context, CancellationToken ct)
    {
        var prefix = arguments["prefix"] is JsonValue p && p.TryGetValue<string>(out var text) ? text : "";
        var keys = (await context.Documents.Query<StoredValue>().Where(v => v.SessionId == context.SessionId)
                .Select(v => v.Key).ToListAsync(ct))
            .Where(k => !context.Storage.TryGetValue(k, out var pending) || pending is not null)
            .Concat(context.Storage.Where(s => s.Value is not null).Select(s => s.Key))
            .Where(k => k.StartsWith(prefix, StringComparison.Ordinal))
            .Distinct().Order(StringComparer.Ordinal).ToList();
        return new JsonObject { ["keys"] = new JsonArray(keys.Select(k => (JsonNode)k).ToArray()) }.ToJsonString();
    }

    private static async Task<string> DeleteAsync(JsonObject arguments, ToolContext context, CancellationToken ct)
    {
        var key = Key(arguments);
        var existed = await FindAsync(context, key, ct) is not null;
        context.Documents.Delete<StoredValue>(StoredValue.IdOf(context.SessionId, key));
        context.Storage[key] = null;
        return new JsonObject { ["key"] = key, ["deleted"] = existed }.ToJsonString();
    }
}

/// <summary>GET /v1/sessions/{id}/storage/keys: the session's stored values, by key.</summary>
public static class SessionStorageEndpoint
{
    public sealed record KeyValueInfo(string Key, string Value, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

    [WolverineGet("/v1/sessions/{id}/storage/keys"), ProducesResponseType<DataList<KeyValueInfo>>(StatusCodes.Status200OK)]
    public static async Task<IResult> Get(string id, ISessionDirectory sessions, IQuerySession documents, HttpContext http)
    {
        if (await InputRules.ExistingSession(sessions, http.Caller().Org, id, http.RequestAborted) is { } missing) return Problems.Result(missing);
        var values = await documents.Query<StoredValue>().Where(v => v.SessionId == id).OrderBy(v => v.Key).ToListAsync(http.RequestAborted);
        return Results.Ok(new DataList<KeyValueInfo>(values.Select(v => new KeyValueInfo(v.Key, v.Value, v.CreatedAt, v.UpdatedAt)).ToList()));
    }
}
