using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Everruns.Contracts;
using Microsoft.Extensions.AI;

namespace Everruns.Modules.Execution;

/// <summary>The tools behind the built-in capabilities, offered to the model and run by the Acting step.</summary>
public sealed class Tools
{
    private readonly Dictionary<string, AIFunction> _byCapability;

    public Tools(TimeProvider clock)
    {
        _byCapability = new()
        {
            [BuiltInCapabilities.CurrentTime] = AIFunctionFactory.Create(
                (string? timezone = null) => CurrentTime(clock, timezone),
                BuiltInCapabilities.CurrentTime,
                "Returns the current date and time: UTC, and local time in the given IANA time zone (e.g. Europe/Kyiv) when one is given."),
        };
    }

    /// <summary>How a timeline shows a tool: its name in words (<c>current_time</c> is "Current time").</summary>
    public static string DisplayName(string toolName)
    {
        var words = toolName.Replace('_', ' ').Replace('-', ' ').Trim();
        return words.Length == 0 ? toolName : char.ToUpperInvariant(words[0]) + words[1..];
    }

    public IReadOnlyList<AITool> For(IEnumerable<CapabilityRef> capabilities) =>
        capabilities.Select(c => _byCapability.GetValueOrDefault(c.Ref)).OfType<AITool>().ToList();

    public async Task<ToolOutcome> RunAsync(ToolCallRequest call, IEnumerable<CapabilityRef> enabled, CancellationToken ct)
    {
        var watch = Stopwatch.StartNew();
        var function = enabled.Any(c => c.Ref == call.Name) ? _byCapability.GetValueOrDefault(call.Name) : null;
        if (function is null)
            return new ToolOutcome(call.Id, call.Name, false, "error", null, $"unknown tool '{call.Name}'", watch.ElapsedMilliseconds);
        try
        {
            var arguments = new AIFunctionArguments(call.Arguments.ToDictionary(
                p => p.Key, p => (object?)(p.Value is null ? null : JsonSerializer.Deserialize<JsonElement>(p.Value.ToJsonString()))));
            var result = await function.InvokeAsync(arguments, ct);
            var text = result switch
            {
                null => "",
                string s => s,
                JsonElement element when element.ValueKind == JsonValueKind.String => element.GetString()!,
                _ => JsonSerializer.Serialize(result),
            };
            return new ToolOutcome(call.Id, call.Name, true, "success", text, null, watch.ElapsedMilliseconds);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return new ToolOutcome(call.Id, call.Name, false, "error", null, e.Message, watch.ElapsedMilliseconds);
        }
    }

    private static string CurrentTime(TimeProvider clock, string? timezone)
    {
        var now = clock.GetUtcNow();
        var result = new JsonObject { ["utc"] = now.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'"), ["unix"] = now.ToUnixTimeSeconds() };
        if (!string.IsNullOrWhiteSpace(timezone))
        {
            // An unknown zone is the model's mistake to correct, reported as a failed call.
            var zone = TimeZoneInfo.FindSystemTimeZoneById(timezone);
            result["timezone"] = timezone;
            result["local"] = TimeZoneInfo.ConvertTime(now, zone).ToString("yyyy-MM-dd'T'HH:mm:sszzz");
        }

        return result.ToJsonString();
    }
}
