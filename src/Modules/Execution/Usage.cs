using Everruns.Contracts;
using Microsoft.Extensions.AI;
using Microsoft.ML.Tokenizers;

namespace Everruns.Modules.Execution;

/// <summary>
/// The tokens of a model call: as its provider reported them (prompt tokens read from the cache kept apart, the public
/// API's disjoint buckets), or, when it reported none (the offline model), counted here with the o200k tokenizer and
/// marked <c>estimated</c>.
/// </summary>
public sealed class Usage(ModelOptions options)
{

    public static TokenUsage? Of(UsageDetails? details) =>
        details is { InputTokenCount: { } input, OutputTokenCount: { } output }
            ? new TokenUsage(input - (details.CachedInputTokenCount ?? 0), output, details.CachedInputTokenCount)
            : null;

    /// <summary>
    /// The tokens with their cost at the deployment's price of the model (MODEL_PRICES, US dollars per million tokens;
    /// cached prompt tokens at the cache price when given); unchanged, without cost, when the model has no price.
    /// </summary>
    public TokenUsage Priced(TokenUsage tokens, string model) => options.PriceOf(model) is not { } price
        ? tokens
        : tokens with
        {
            EstimatedCostUsd = Math.Round((tokens.InputTokens * price.Input + tokens.OutputTokens * price.Output
                                           + (tokens.CacheReadTokens ?? 0) * (price.CacheRead ?? price.Input)) / 1_000_000, 9),
        };

    /// <summary>The tokens of what was sent and answered (a few per message for its framing, as chat formats add).</summary>
    public TokenUsage Estimate(Lazy<long> sentTokens, ChatResponse response)
    {
        var input = sentTokens.Value; // CountInput of what was sent
        var output = Count(response.Text) + response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>()
            .Sum(c => Count(c.Name) + Count(System.Text.Json.JsonSerializer.Serialize(c.Arguments)));
        return new TokenUsage(input, output, null, true);
    }

    /// <summary>The prompt's tokens as <see cref="Estimate"/> counts them (what a budget reserves for it).</summary>
    public long CountInput(IEnumerable<ChatMessage> sent) =>
        sent.Sum(m => Count(m.Text) + Count(string.Join(' ', m.Contents.OfType<FunctionResultContent>().Select(r => r.Result?.ToString()))) + 4);

    /// <summary>The longest start of <paramref name="text"/> of at most <paramref name="tokens"/> tokens.</summary>
    public static string Truncate(string text, int tokens)
    {
        var end = Shared.Value.GetIndexByTokenCount(text, tokens, out _, out _);
        return text[..end];
    }

    private static readonly Lazy<Tokenizer> Shared = new(() => TiktokenTokenizer.CreateForEncoding("o200k_base"));

    private int Count(string? text) => string.IsNullOrEmpty(text) ? 0 : Shared.Value.CountTokens(text);
}
