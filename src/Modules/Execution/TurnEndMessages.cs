using System.Text.Json.Nodes;
using Everruns.Contracts;

namespace Everruns.Modules.Execution;

/// <summary>
/// The messages the server writes into a conversation when a turn ends without the model's answer: the agent's plain
/// explanation after <c>turn.failed</c> (by error code), and the user's request and the agent's note after a cancel.
/// The model sees them in the session's later turns, as the user does in its messages.
/// </summary>
public static class TurnEndMessages
{
    public const string DefaultFailure = "I encountered an error while processing your request. Please try again later.";
    public const string CancelRequest = "User requested to cancel the work.";
    public const string CancelNote = "Work was cancelled by user.";

    /// <summary>What the user is told when a turn fails with this code; the default for any other.</summary>
    public static string FailureText(string? errorCode, IReadOnlyDictionary<string, string>? errorFields) => errorCode switch
    {
        ProviderErrors.RateLimited => "Rate limited by the AI provider. Please wait a moment.",
        ProviderErrors.Unavailable => "The AI provider is experiencing issues. Please try again shortly.",
        ProviderErrors.Misconfigured => "There is a misconfiguration with the AI provider. Please contact support.",
        "provider_quota_exhausted" =>
            "The AI provider account is out of credits or quota. Add credits or raise the provider account limits to continue.",
        ProviderErrors.RequestTooLarge =>
            "The conversation has become too long for the model to process. Please start a new session or reduce the context size.",
        "model_not_configured" =>
            "No model is configured for this chat. Choose a model or configure a default model, then try again.",
        ProviderErrors.ModelUnavailable when errorFields?.GetValueOrDefault("model_id") is { Length: > 0 } model =>
            $"The model `{model}` is not available. It may have been removed, renamed, or your API key may not have access to it. Please select a different model.",
        ProviderErrors.ModelUnavailable =>
            "The selected model is not available. It may have been removed, renamed, or your API key may not have access to it. Please select a different model.",
        _ => DefaultFailure,
    };

    /// <summary>The agent's message after <c>turn.failed</c>: its text for the code, the code on the event and in the message's metadata.</summary>
    public static OutputMessageCompleted Failed(string? errorCode, IReadOnlyDictionary<string, string>? errorFields)
    {
        var message = Message("agent", FailureText(errorCode, errorFields));
        message["phase"] = "final_answer";
        if (errorCode is not null) message["metadata"] = new JsonObject { ["error_code"] = errorCode };
        return new OutputMessageCompleted(message, new OutputMetadata(null), null, errorCode);
    }

    /// <summary>After <c>turn.cancelled</c> by its user: the user's request, then the agent's note.</summary>
    public static IReadOnlyList<ISessionEventData> Cancelled()
    {
        var note = Message("agent", CancelNote);
        note["phase"] = "final_answer";
        return [new InputMessageReceived(Message("user", CancelRequest)), new OutputMessageCompleted(note, new OutputMetadata(null))];
    }

    private static JsonObject Message(string role, string text) => new()
    {
        ["id"] = Ids.New(Ids.Message),
        ["role"] = role,
        ["content"] = new JsonArray(new JsonObject { ["type"] = "text", ["text"] = text }),
        ["created_at"] = DateTimeOffset.UtcNow.ToString("O"),
    };
}
