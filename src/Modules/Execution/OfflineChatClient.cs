using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.RegularExpressions;
using Everruns.Contracts;
using Microsoft.Extensions.AI;

namespace Everruns.Modules.Execution;

/// <summary>
/// The built-in model: needs no network and answers deterministically. It echoes the user's message; when
/// asked for the time and the <c>current_time</c> tool is offered, it calls the tool and then reports its
/// result. A message saying <c>call &lt;tool&gt;</c>, optionally followed by the JSON object of its arguments
/// (<c>call get_weather {"city":"Paris"}</c>), calls that tool when it is offered (a client's tool too), several such in one
/// message call them all in one answer. The answer streams word by word (with <c>OFFLINE_MODEL_CHUNK_DELAY_MS</c>
/// between words).
/// </summary>
public sealed partial class OfflineChatClient(TimeSpan chunkDelay) : IChatClient
{
    public const string EchoPrefix = "Echo: ";

    [GeneratedRegex(@"\b(time|clock|date)\b", RegexOptions.IgnoreCase)]
    private static partial Regex AsksForTime();

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in GetStreamingResponseAsync(messages, options, cancellationToken))
            updates.Add(update);
        return updates.ToChatResponse();
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages,
        ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var history = messages.ToList();
        var last = history.LastOrDefault(m => m.Role != ChatRole.System);
        var modelId = options?.ModelId ?? ModelCatalog.OfflineModelName;

        if (last?.Role == ChatRole.User && RequestedCalls(last.Text, options) is { Count: > 0 } calls)
        {
            yield return new ChatResponseUpdate(ChatRole.Assistant, [.. calls])
            {
                ModelId = modelId,
                FinishReason = ChatFinishReason.ToolCalls,
            };
            yield break;
        }

        if (last?.Role == ChatRole.User && AsksForTime().IsMatch(last.Text) &&
            options?.Tools?.Any(t => t.Name == BuiltInCapabilities.CurrentTime) == true)
        {
            yield return new ChatResponseUpdate(ChatRole.Assistant,
                [new FunctionCallContent(Ids.New("call"), BuiltInCapabilities.CurrentTime, new Dictionary<string, object?>())])
            {
                ModelId = modelId,
                FinishReason = ChatFinishReason.ToolCalls,
            };
            yield break;
        }

        var answer = last?.Role == ChatRole.Tool ? Report(last) : EchoPrefix + (last?.Text ?? "");
        var finish = ChatFinishReason.Stop;
        if (options?.MaxOutputTokens is { } max && Usage.Truncate(answer, max) is var cut && cut.Length < answer.Length)
            (answer, finish) = (cut, ChatFinishReason.Length); // a model stops at its answer's token limit
        var words = Regex.Split(answer, @"(?<=\s)");
        foreach (var word in words.Where(w => w.Length > 0))
        {
            if (chunkDelay > TimeSpan.Zero) await Task.Delay(chunkDelay, cancellationToken);
            cancellationToken.ThrowIfCancellationRequested();
            yield return new ChatResponseUpdate(ChatRole.Assistant, word) { ModelId = modelId };
        }

        yield return new ChatResponseUpdate { Role = ChatRole.Assistant, ModelId = modelId, FinishReason = finish };
    }

    [GeneratedRegex(@"\bcall\s+([A-Za-z0-9_-]+)", RegexOptions.IgnoreCase)]
    private static partial Regex CallPattern();

    /// <summary>The calls a message asks for: <c>call &lt;offered tool&gt; [{json arguments}]</c>, each in order.</summary>
    private static List<AIContent> RequestedCalls(string text, ChatOptions? options)
    {
        var offered = options?.Tools?.Select(t => t.Name).ToHashSet(StringComparer.Ordinal) ?? [];
        var calls = new List<AIContent>();
        foreach (Match match in CallPattern().Matches(text))
        {
            var name = match.Groups[1].Value;
            if (!offered.Contains(name)) continue;
            var arguments = new Dictionary<string, object?>();
            var rest = text.AsSpan(match.Index + match.Length).TrimStart();
            if (rest.Length > 0 && rest[0] == '{' && JsonObjectLength(rest) is { } length)
            {
                try
                {
                    using var json = JsonDocument.Parse(rest[..length].ToString());
                    foreach (var property in json.RootElement.EnumerateObject()) arguments[property.Name] = property.Value.Clone();
                }
                catch (JsonException)
                {
                    // not JSON after all: the call goes without arguments
                }
            }

            calls.Add(new FunctionCallContent(Ids.New("call"), name, arguments));
        }

        return calls;
    }

    /// <summary>How long the JSON object at the start of <paramref name="text"/> is (braces balanced outside strings).</summary>
    private static int? JsonObjectLength(ReadOnlySpan<char> text)
    {
        var depth = 0;
        var inString = false;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (inString)
            {
                if (c == '\\') i++;
                else if (c == '"') inString = false;
            }
            else if (c == '"') inString = true;
            else if (c == '{') depth++;
            else if (c == '}' && --depth == 0) return i + 1;
        }

        return null;
    }

    /// <summary>Says what the tools answered: the time for current_time, the raw result otherwise.</summary>
    private static string Report(ChatMessage toolMessage)
    {
        var parts = toolMessage.Contents.OfType<FunctionResultContent>().Select(result =>
        {
            var text = result.Result?.ToString() ?? "";
            try
            {
                using var json = JsonDocument.Parse(text);
                if (json.RootElement.ValueKind == JsonValueKind.Object && json.RootElement.TryGetProperty("utc", out var utc))
                    return $"The current time is {utc.GetString()} (UTC).";
            }
            catch (JsonException)
            {
                // not JSON: report it as it is
            }

            return $"The tool answered: {text}";
        });
        return string.Join(" ", parts);
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is null && serviceType.IsInstanceOfType(this) ? this : null;

    public void Dispose()
    {
    }
}
