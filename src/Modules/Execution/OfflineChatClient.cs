using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.RegularExpressions;
using Everruns.Contracts;
using Microsoft.Extensions.AI;

namespace Everruns.Modules.Execution;

/// <summary>
/// The built-in model: needs no network and answers deterministically. It echoes the user's message; when
/// asked for the time and the <c>current_time</c> tool is offered, it calls the tool and then reports its
/// result. The answer streams word by word (with <c>OFFLINE_MODEL_CHUNK_DELAY_MS</c> between words).
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
        var words = Regex.Split(answer, @"(?<=\s)");
        foreach (var word in words.Where(w => w.Length > 0))
        {
            if (chunkDelay > TimeSpan.Zero) await Task.Delay(chunkDelay, cancellationToken);
            cancellationToken.ThrowIfCancellationRequested();
            yield return new ChatResponseUpdate(ChatRole.Assistant, word) { ModelId = modelId };
        }

        yield return new ChatResponseUpdate { Role = ChatRole.Assistant, ModelId = modelId, FinishReason = ChatFinishReason.Stop };
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
