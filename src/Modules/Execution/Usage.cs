using Everruns.Contracts;
using Microsoft.Extensions.AI;
using Microsoft.ML.Tokenizers;

namespace Everruns.Modules.Execution;

/// <summary>
/// The tokens of a model call: as its provider reported them (prompt tokens read from the cache kept apart, the public
/// API's disjoint buckets), or, when it reported none (the offline model), counted here with the o200k tokenizer and
/// marked <c>estimated</c>.
/// </summary>
public sealed class Usage
{
    private readonly Lazy<Tokenizer> _tokenizer = new(() => TiktokenTokenizer.CreateForEncoding("o200k_base"));

    public static TokenUsage? Of(UsageDetails? details) =>
        details is { InputTokenCount: { } input, OutputTokenCount: { } output }
            ? new TokenUsage(input - (details.CachedInputTokenCount ?? 0), output, details.CachedInputTokenCount)
            : null;

    /// <summary>The tokens of what was sent and answered (a few per message for its framing, as chat formats add).</summary>
    public TokenUsage Estimate(IEnumerable<ChatMessage> sent, ChatResponse response)
    {
        var input = sent.Sum(m => Count(m.Text) + Count(string.Join(' ', m.Contents.OfType<FunctionResultContent>().Select(r => r.Result?.ToString()))) + 4);
        var output = Count(response.Text) + response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>()
            .Sum(c => Count(c.Name) + Count(System.Text.Json.JsonSerializer.Serialize(c.Arguments)));
        return new TokenUsage(input, output, null, true);
    }

    private int Count(string? text) => string.IsNullOrEmpty(text) ? 0 : _tokenizer.Value.CountTokens(text);
}
