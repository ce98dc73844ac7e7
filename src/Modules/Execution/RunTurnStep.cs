using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Everruns.Contracts;
using Marten;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Wolverine;

namespace Everruns.Modules.Execution;

/// <summary>
/// Reasoning: one model call of a turn. Streams the answer as progress events and hands the outcome to
/// <see cref="FinishTurnStepHandler"/>. Stops as soon as the turn is cancelled from any instance.
/// </summary>
public static class RunTurnStepHandler
{
    public static readonly TimeSpan DeltaBatch = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan CancelPoll = TimeSpan.FromSeconds(5);

    public static async Task<TurnStepFinished?> Handle(RunTurnStep step, IDocumentSession documents, IMessageBus bus,
        ModelCatalog models, Tools tools, TurnProgress progress, ISessionSignals signals, TurnHeartbeat heartbeat,
        ILogger<RunTurnStep> logger, CancellationToken ct)
    {
        var state = await documents.LoadAsync<SessionTurns>(step.SessionId, ct);
        if (!state.IsAt(step.TurnId, step.Iteration, TurnPhase.Reasoning)) return null; // cancelled, or already done
        var turn = state!.Active!;
        EverrunsMetrics.TaskClaimed.Add();
        await using var beating = heartbeat.Begin(step.SessionId, step.TurnId);
        try
        {
            return await RunAsync(step, turn, documents, bus, models, tools, progress, signals, logger, ct);
        }
        finally
        {
            EverrunsMetrics.TaskCompleted.Add();
        }
    }

    private static async Task<TurnStepFinished?> RunAsync(RunTurnStep step, ActiveTurn turn, IDocumentSession documents,
        IMessageBus bus, ModelCatalog models, Tools tools, TurnProgress progress, ISessionSignals signals,
        ILogger<RunTurnStep> logger, CancellationToken ct)
    {

        var runtime = (await bus.InvokeAsync<SessionRuntimeFound>(new GetSessionRuntime(step.SessionId), ct)).Runtime;
        if (runtime is null) return Failed(step, null, "The session no longer exists.", "session_not_found");
        var history = await bus.InvokeAsync<SessionEventsRead>(new ReadSessionEvents(step.SessionId, Conversation.EventTypesRead), ct);
        var model = models.Resolve(runtime.ModelId);
        if (model is null)
            return Failed(step, runtime.ModelId, $"The session's model '{runtime.ModelId}' is not available on this server.", "model_not_found");
        var options = new ChatOptions { ModelId = model.ModelId, Tools = [.. tools.For(runtime.Capabilities)] };

        await progress.AppendAsync(step.SessionId, turn, EventTypes.OutputMessageStarted, new JsonObject
        {
            ["turn_id"] = step.TurnId,
            ["iteration"] = step.Iteration,
            ["model"] = model.ModelId,
        }, ct);

        using var cancelled = CancellationTokenSource.CreateLinkedTokenSource(ct);
        using var subscription = signals.Subscribe(step.SessionId);
        var watcher = WatchForCancel(step, progress, subscription, cancelled);
        try
        {
            var updates = new List<ChatResponseUpdate>();
            var accumulated = new StringBuilder();
            var pending = new StringBuilder();
            var lastFlush = Stopwatch.StartNew();
            await foreach (var update in model.Client.GetStreamingResponseAsync(Conversation.Build(runtime.SystemPrompt, history.Events), options, cancelled.Token))
            {
                updates.Add(update);
                if (string.IsNullOrEmpty(update.Text)) continue;
                pending.Append(update.Text);
                if (lastFlush.Elapsed < DeltaBatch) continue;
                await FlushDelta(step, turn, progress, accumulated, pending, cancelled.Token);
                lastFlush.Restart();
            }

            await FlushDelta(step, turn, progress, accumulated, pending, cancelled.Token);
            var response = updates.ToChatResponse();
            var calls = response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>()
                .Select(c => new ToolCallRequest(c.CallId, c.Name,
                    JsonSerializer.SerializeToNode(c.Arguments ?? new Dictionary<string, object?>())?.AsObject() ?? []))
                .ToList();
            return new TurnStepFinished(step.SessionId, step.TurnId, step.Iteration, response.ModelId ?? model.ModelId,
                response.Text, calls, null, null);
        }
        catch (OperationCanceledException) when (cancelled.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            logger.LogInformation("Turn {TurnId} of {SessionId} was cancelled during its model call", step.TurnId, step.SessionId);
            return null;
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            logger.LogWarning(e, "Model call of turn {TurnId} failed", step.TurnId);
            return Failed(step, model.ModelId, $"The model call failed: {e.Message}", "llm_error");
        }
        finally
        {
            await cancelled.CancelAsync();
            await watcher;
        }
    }

    private static TurnStepFinished Failed(RunTurnStep step, string? model, string error, string code) =>
        new(step.SessionId, step.TurnId, step.Iteration, model, "", [], error, code);

    private static async Task FlushDelta(RunTurnStep step, ActiveTurn turn, TurnProgress progress, StringBuilder accumulated,
        StringBuilder pending, CancellationToken ct)
    {
        if (pending.Length == 0) return;
        accumulated.Append(pending);
        await progress.AppendAsync(step.SessionId, turn, EventTypes.OutputMessageDelta, new JsonObject
        {
            ["turn_id"] = step.TurnId,
            ["delta"] = pending.ToString(),
            ["accumulated"] = accumulated.ToString(),
        }, ct);
        pending.Clear();
    }

    /// <summary>Any event of the session (a cancel appends one) wakes the check; a slow poll covers a lost notification.</summary>
    private static async Task WatchForCancel(RunTurnStep step, TurnProgress progress, SessionSubscription subscription,
        CancellationTokenSource cancelled)
    {
        try
        {
            while (!cancelled.IsCancellationRequested)
            {
                await subscription.WaitAsync(CancelPoll, cancelled.Token);
                if (!await progress.IsActiveAsync(step.SessionId, step.TurnId, cancelled.Token))
                {
                    await cancelled.CancelAsync();
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // the step ended
        }
    }
}
