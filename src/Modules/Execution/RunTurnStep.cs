using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Everruns.Contracts;
using Everruns.Infrastructure;
using Marten;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Wolverine;

namespace Everruns.Modules.Execution;

/// <summary>
/// Reasoning: one model call of a turn. Streams the answer as progress events and commits the outcome
/// (<see cref="FinishTurnStep"/>) in its own transaction. Stops as soon as the turn is cancelled from any instance. When this
/// instance shuts down, the call may run on for SHUTDOWN_GRACE_SECS; past that the step is handed off: sent again, into
/// the durable inbox, where Wolverine's drain leaves it and releases it to whichever instance recovers it first (one
/// restarting, if none runs). A step run again (after a hand-off or a crash) does not repeat the
/// progress events the earlier attempt already wrote: it continues the streamed text where that one stopped.
/// </summary>
public static class RunTurnStepHandler
{
    public static readonly TimeSpan DeltaBatch = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan CancelPoll = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The model's answer, by the step that asked, until the step is gone: an in-memory retry after a failed commit
    /// commits it instead of calling the model again. Held weakly, so it never outlives its message; a retry scheduled in
    /// the database (a longer outage) reads the step back as a new message and calls the model again, resuming.
    /// </summary>
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<RunTurnStep, TurnStepFinished> Answered = new();

    public static async Task<OutgoingMessages> Handle(RunTurnStep step, IDocumentSession documents, ISessionDirectory sessions,
        ISessionEventLog events, IProviderCredentials providers, ModelCatalog models, Tools tools, TurnProgress progress, ISessionSignals signals, TurnHeartbeat heartbeat,
        ShutdownSettings shutdown, IHostApplicationLifetime lifetime, InstanceIdentity self, ConversationCache conversations,
        Usage usage, IOrgModels orgModels, ModelRetries retries, IBudgetGate budgets, ModelOptions modelOptions, ILogger<RunTurnStep> logger,
        CancellationToken ct)
    {
        var next = new OutgoingMessages();
        EventContext turn;
        if (step.InputMessageId is { } input)
        {
            turn = new EventContext(step.TurnId, input); // whether the step is still due: from the conversation read
        }
        else
        {
            var state = await documents.LoadAsync<SessionTurns>(step.SessionId, ct);
            if (!state.IsAt(step.TurnId, step.Iteration, TurnPhase.Reasoning)) return next; // cancelled, or already done
            turn = Turns.Context(state!.Active);
        }

        EverrunsMetrics.TaskClaimed.Add();
        var carried = StepMemory.Of(step);
        if (carried is null) EverrunsMetrics.StepsResumed.Add(); // read back from the store: no sender handed it over
        await using var beating = heartbeat.Begin(step.SessionId, step.TurnId);
        using var handOff = new CancellationTokenSource();
        await using var onStopping = lifetime.ApplicationStopping.Register(() => handOff.CancelAfter(shutdown.Grace));
        try
        {
            // A retry of a commit that failed (the turn state changed, or the database was briefly unavailable) has the
            // answer already: Wolverine retries in memory with the same message.
            if (Answered.TryGetValue(step, out var answered))
            {
                EverrunsMetrics.StepCommitRetries.Add();
                await FinishTurnStep.CommitAsync(answered, documents, next, null, ct);
                return next;
            }

            var call = new ModelCall(step, documents.TenantId, carried, turn, sessions, events, providers, models, tools, progress, signals, conversations, logger, usage,
                orgModels, retries, budgets, modelOptions);
            var finished = await call.RunAsync(handOff.Token, ct);
            if (finished is not null)
            {
                Answered.AddOrUpdate(step, finished);
                await FinishTurnStep.CommitAsync(finished, documents, next, carried?.Handover?.Take(), ct);
            }
            else if (handOff.IsCancellationRequested && !call.Outdated)
            {
                logger.LogInformation("Turn {TurnId} of {SessionId} handed to another instance (shutting down)", step.TurnId, step.SessionId);
                next.Add(step with { }); // a new message object: it carries nothing of this one's StepMemory
            }

            return next;
        }
        finally
        {
            EverrunsMetrics.TaskCompleted.Add();
        }
    }

    private sealed class ModelCall(RunTurnStep step, string orgId, StepMemory.Carried? carried, EventContext turn, ISessionDirectory sessions, ISessionEventLog events,
        IProviderCredentials providers, ModelCatalog models, Tools tools,
        TurnProgress progress, ISessionSignals signals, ConversationCache conversations, ILogger logger, Usage usage, IOrgModels orgModels,
        ModelRetries retries, IBudgetGate budgets, ModelOptions modelOptions)
    {

        private readonly StringBuilder _accumulated = new();
        private readonly StringBuilder _pending = new();
        private string? _replay; // text an earlier attempt of this step already streamed
        private OutputMessageStarted? _started; // while not written yet
        private readonly StringBuilder _thinking = new(); // what a reasoning model streamed of its thinking
        private int _thinkingSent;
        private bool _thinkingStarted, _thinkingCompleted;
        private string _model = "";
        private string _messageId = Ids.New(Ids.Message); // an earlier attempt's, when this one resumes it
        private int _sent;

        /// <summary>The step was no longer due when it ran (the turn ended or moved on): it did nothing.</summary>
        public bool Outdated { get; private set; }

        /// <summary>The outcome to commit, or null when outdated, cancelled or handed off.</summary>
        public async Task<TurnStepFinished?> RunAsync(CancellationToken handOff, CancellationToken ct)
        {
            var runtime = carried?.Runtime ?? await sessions.RuntimeAsync(step.SessionId, ct);
            if (runtime is null) return Failed(null, "The session no longer exists.", "session_not_found");
            // One read: the conversation (of every turn) after what this instance has of it, and of this turn only what an
            // earlier attempt of this step may have streamed and whether it ended (from the turn's start).
            var (history, read) = await ReadAsync(ct);
            if (TurnStepRead.Outdated([.. history, .. read], step.TurnId, step.Iteration))
            {
                Outdated = true;
                return null;
            }

            Model? model;
            try
            {
                model = await models.ResolveAsync(runtime.OrgId, runtime.ModelId, orgModels, providers, ct);
            }
            catch (ProviderCallException e)
            {
                return Failed(runtime.ModelId, e.Message, e.Code);
            }

            if (model is null)
                return Failed(runtime.ModelId, $"The session's model '{runtime.ModelId}' is not available on this server.", ProviderErrors.ModelUnavailable) with
                {
                    ErrorFields = new Dictionary<string, string> { ["model_id"] = runtime.ModelId! },
                };
            var options = new ChatOptions { ModelId = model.ModelId, Tools = [.. tools.For(runtime.Capabilities, runtime.Tools)],
                AllowMultipleToolCalls = runtime.ParallelToolCalls };
            var client = model.Client;
            var tally = new ModelRetries.Tally();

            // The message starts (output.message.started) with its first streamed text, in one transaction with it, or
            // with the outcome when the whole answer came sooner than one delta batch.
            _started = Resume(read) ? null : new OutputMessageStarted(step.TurnId, step.Iteration, model.ModelId, _messageId);
            _model = model.ModelId;

            var sent = Conversation.Build(runtime.SystemPrompt, history);

            // The budgets over the session: the call reserves what it may cost, answering no more than they can pay for.
            var price = modelOptions.PriceOf(model.ModelId);
            var promptTokens = new Lazy<long>(() => usage.CountInput(sent)); // counted once, and only when needed
            var budgetCall = new BudgetCall(orgId, step.SessionId, runtime.AgentId, $"{step.TurnId}:{step.Iteration}", () => promptTokens.Value,
                modelOptions.MaxOutputTokens, price?.Input, price?.Output, price?.CacheRead);
            var gate = await budgets.ReserveAsync(budgetCall, ct);
            if (gate.Action != BudgetReservation.Continue)
            {
                var events = gate.Event is { } notice ? new List<ISessionEventData> { notice } : [];
                return gate.Action == BudgetReservation.Pause
                    ? Failed(model.ModelId, "", "") with { Error = null, ErrorCode = null, BudgetEvents = events, PausedForBudget = true }
                    : Failed(model.ModelId, gate.Message ?? "Budget exhausted.", gate.ErrorCode ?? "budget_exhausted") with { BudgetEvents = events };
            }

            if (gate.Reserved) options.MaxOutputTokens = gate.MaxOutputTokens; // under a budget, the provider stops where it must
            async Task<IReadOnlyList<ISessionEventData>> Settle(TokenUsage used) =>
                gate.Reserved ? await budgets.SettleAsync(budgetCall, used, CancellationToken.None) : [];

            var watch = Stopwatch.StartNew();
            long? firstToken = null;
            using var cancelled = CancellationTokenSource.CreateLinkedTokenSource(ct, handOff);
            using var subscription = signals.Subscribe(step.SessionId, EndsTurn);
            var watcher = WatchForCancel(subscription, cancelled);
            try
            {
                var updates = new List<ChatResponseUpdate>();
                var lastFlush = Stopwatch.StartNew();
                await foreach (var update in retries.StreamAsync(() => client.GetStreamingResponseAsync(sent, options, cancelled.Token),
                                   model.Provider, model.ModelId, tally, cancelled.Token))
                {
                    updates.Add(update);
                    if (firstToken is null && (!string.IsNullOrEmpty(update.Text) || update.Contents.OfType<FunctionCallContent>().Any()))
                        firstToken = watch.ElapsedMilliseconds;
                    foreach (var reasoning in update.Contents.OfType<TextReasoningContent>()) _thinking.Append(reasoning.Text);
                    if (string.IsNullOrEmpty(update.Text) && _thinking.Length == _thinkingSent) continue;
                    _pending.Append(update.Text);
                    if (lastFlush.Elapsed < DeltaBatch) continue;
                    await FlushAsync(cancelled.Token);
                    lastFlush.Restart();
                }

                // The rest of the text is written with the outcome, in its transaction.
                var unwritten = Unwritten(TakeDelta(), final: true);
                var response = updates.ToChatResponse();
                var calls = response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>()
                    .Select(c => new ToolCallRequest(c.CallId, c.Name,
                        JsonSerializer.SerializeToNode(c.Arguments ?? new Dictionary<string, object?>())?.AsObject() ?? []))
                    .ToList();
                var used = usage.Priced(Usage.Of(response.Usage) ?? usage.Estimate(promptTokens, response), response.ModelId ?? model.ModelId);
                var generation = new LlmGeneration(
                    new LlmGenerationMetadata(response.ModelId ?? model.ModelId, model.Provider, true, watch.ElapsedMilliseconds, firstToken,
                        response.FinishReason is { } finish ? [finish.Value] : null, used, Retry: tally.ToEvent()),
                    new LlmGenerationOutput(response.Text, calls.Select(c => c.ToRef()).ToList()));
                return new TurnStepFinished(step.SessionId, step.TurnId, step.Iteration, response.ModelId ?? model.ModelId,
                    response.Text, calls, null, null, unwritten, _messageId, generation, BudgetEvents: await Settle(used));
            }
            catch (TurnEndedException)
            {
                logger.LogInformation("Turn {TurnId} of {SessionId} ended during its model call", step.TurnId, step.SessionId);
                return null;
            }
            catch (OperationCanceledException) when (cancelled.IsCancellationRequested && !ct.IsCancellationRequested)
            {
                if (!handOff.IsCancellationRequested)
                {
                    logger.LogInformation("Turn {TurnId} of {SessionId} was cancelled during its model call", step.TurnId, step.SessionId);
                    // What a cancelled call used is not reported: its prompt and what it streamed are charged, the rest given back.
                    // (A call handed to another instance keeps its reservation: it runs again there and settles then.)
                    await Settle(new TokenUsage(promptTokens.Value, _accumulated.Length + _pending.Length == 0 ? 0 : usage.CountInput([new ChatMessage(ChatRole.Assistant, _accumulated.ToString() + _pending)]), null, true));
                }

                return null;
            }
            // A database failure while streaming (writing a delta) is not the model's: the step is retried (and resumes).
            catch (Exception e) when (!ct.IsCancellationRequested && !TransientDatabaseErrors.IsTransient(e))
            {
                var failure = ModelErrors.Classify(e, model.Provider, model.ModelId);
                await Settle(new TokenUsage(0, 0)); // a failed call costs nothing: its reservation is given back
                logger.LogWarning(e, "Model call of turn {TurnId} failed: {Code}", step.TurnId, failure.Code);
                var fields = new Dictionary<string, string> { ["provider"] = model.Provider, ["model_id"] = model.ModelId };
                if (failure.RetryAfter is { } after) fields["retry_after"] = ((int)Math.Ceiling(after.TotalSeconds)).ToString();
                return Failed(model.ModelId, failure.Message, failure.Code) with
                {
                    ErrorFields = fields,
                    Generation = new LlmGeneration(new LlmGenerationMetadata(model.ModelId, model.Provider, false, watch.ElapsedMilliseconds,
                        firstToken, null, null, failure.Message, tally.ToEvent()), new LlmGenerationOutput(null, [])),
                };
            }
            finally
            {
                await cancelled.CancelAsync();
                await watcher;
            }
        }

        /// <summary>
        /// The conversation, the part this instance kept (<see cref="ConversationCache"/>) and what came after it, and the
        /// events of this turn's own types (<see cref="TurnStepRead.TurnTypes"/>).
        /// </summary>
        private async Task<(IReadOnlyList<RecordedSessionEvent> History, List<RecordedSessionEvent> Turn)> ReadAsync(CancellationToken ct)
        {
            var kept = conversations.Get(step.SessionId);
            // Sent by a transaction of this instance whose events were kept as it committed, and nothing kept after them
            // (a cancel, or progress of an earlier attempt of this step, would be): the conversation is all here.
            if (carried?.Written is { } written && kept is not null && kept.Through == written.Version) return (kept.Events, []);
            var through = kept?.Through ?? 0;
            // This turn's events all come after its turn.started: kept already, or after what is kept.
            var turnStart = kept?.Events.LastOrDefault(e => e.Type == EventTypes.TurnStarted && e.Context.TurnId == step.TurnId)?.Sequence;
            var query = new ReadSessionEvents(step.SessionId, Conversation.EventTypesRead, through, TurnId: step.TurnId,
                TurnTypes: TurnStepRead.TurnTypes, TurnAfterSequence: turnStart - 1);
            var read = new List<RecordedSessionEvent>();
            while (true)
            {
                // Page after page: a conversation longer than a page is read to its end (its latest input is in the last).
                var page = await events.ReadAsync(query, ct);
                read.AddRange(page);
                if (page.Count < query.Limit) break;
                var last = page[^1].Sequence;
                query = query with { AfterSequence = Math.Max(through, last), TurnAfterSequence = last < through ? last : null };
            }

            var history = new List<RecordedSessionEvent>(kept?.Events ?? []);
            var turnEvents = new List<RecordedSessionEvent>();
            foreach (var e in read)
            {
                if (!Conversation.EventTypesRead.Contains(e.Type)) turnEvents.Add(e);
                else
                {
                    ConversationCache.Materialize(e);
                    history.Add(e);
                }
            }

            if (history.Count > 0)
                conversations.Put(step.SessionId, new ConversationCache.Entry(history[^1].Sequence, history));
            return (history, turnEvents);
        }

        /// <summary>
        /// Whether an earlier attempt of this step already started the message; if so, what it streamed, so that
        /// this attempt emits only what comes after (or, if the model now says something else, the new text).
        /// </summary>
        private bool Resume(IReadOnlyList<RecordedSessionEvent> read)
        {
            var earlier = read.Where(e => TurnStepRead.StreamedTypes.Contains(e.Type) && e.Context.TurnId == step.TurnId).ToList();
            var started = earlier.LastOrDefault(e => e.Data is OutputMessageStarted s && s.Iteration == step.Iteration);
            if (started is null) return false;
            _messageId = ((OutputMessageStarted)started.Data).MessageId;
            _replay = earlier.Where(e => e.Sequence > started.Sequence).Select(e => (e.Data as OutputMessageDelta)?.Accumulated)
                .LastOrDefault(text => text is not null) ?? "";
            return true;
        }

        private async Task FlushAsync(CancellationToken ct)
        {
            var delta = TakeDelta();
            var events = Unwritten(delta);
            if (events.Count == 0) return;
            await progress.AppendAsync(orgId, step.SessionId, turn, events, ct);
            if (delta is not null) _started = null;
        }

        /// <summary>
        /// What is not written yet: the model's thinking since the last batch (<c>reason.thinking.started</c> first, then
        /// <c>.delta</c>, and <c>.completed</c> once the answer begins or the call ends), then the message's start and the
        /// text's delta (when there is text, or at the end).
        /// </summary>
        private List<ISessionEventData> Unwritten(OutputMessageDelta? delta, bool final = false)
        {
            var events = new List<ISessionEventData>();
            if (_thinking.Length > _thinkingSent)
            {
                if (!_thinkingStarted) events.Add(new ReasonThinkingStarted(step.TurnId, _model));
                _thinkingStarted = true;
                var all = _thinking.ToString();
                events.Add(new ReasonThinkingDelta(step.TurnId, all[_thinkingSent..], all));
                _thinkingSent = all.Length;
            }

            if (_thinkingStarted && !_thinkingCompleted && (delta is not null || final))
            {
                events.Add(new ReasonThinkingCompleted(step.TurnId, _thinking.ToString()));
                _thinkingCompleted = true;
            }

            if (_started is not null && (delta is not null || final)) events.Add(_started);
            if (delta is not null) events.Add(delta);
            return events;
        }

        /// <summary>The <c>output.message.delta</c> of the text streamed since the last one, or null when there is none.</summary>
        private OutputMessageDelta? TakeDelta()
        {
            if (_pending.Length == 0) return null;
            _accumulated.Append(_pending);
            _pending.Clear();
            var text = _accumulated.ToString();
            string delta;
            if (_replay is not null)
            {
                if (_replay.StartsWith(text, StringComparison.Ordinal)) return null; // still repeating what was sent
                delta = text.StartsWith(_replay, StringComparison.Ordinal) ? text[_replay.Length..] : text;
                _replay = null;
            }
            else
            {
                delta = text[_sent..];
            }

            _sent = text.Length;
            return new OutputMessageDelta(step.TurnId, step.Iteration, delta, text, _messageId);
        }

        private TurnStepFinished Failed(string? model, string error, string code) =>
            new(step.SessionId, step.TurnId, step.Iteration, model, "", [], error, code);

        private static bool EndsTurn(string type) => type is EventTypes.TurnCancelled or EventTypes.TurnFailed or EventTypes.TurnCompleted;

        /// <summary>
        /// An event that ends a turn (a cancel or the reaper appends one), not the step's own progress, wakes the check;
        /// a slow poll covers a lost notification.
        /// </summary>
        private async Task WatchForCancel(SessionSubscription subscription, CancellationTokenSource cancelled)
        {
            try
            {
                while (!cancelled.IsCancellationRequested)
                {
                    await subscription.WaitAsync(CancelPoll, cancelled.Token);
                    if (cancelled.IsCancellationRequested) return; // the step ended
                    if (!await progress.IsActiveAsync(orgId, step.SessionId, step.TurnId, cancelled.Token))
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
}

/// <summary>What a model-call step reads of its own turn beside the conversation, and what it tells.</summary>
public static class TurnStepRead
{
    /// <summary>What a model call streams before its outcome: read back, for this turn only, to resume a step run again.</summary>
    public static readonly string[] StreamedTypes = [EventTypes.OutputMessageStarted, EventTypes.OutputMessageDelta];

    /// <summary>Of the step's turn only: what an earlier attempt streamed (to resume it) and the events that end a turn.</summary>
    public static readonly string[] TurnTypes = [.. StreamedTypes, EventTypes.TurnCompleted, EventTypes.TurnFailed, EventTypes.TurnCancelled];

    /// <summary>
    /// Whether the model call of <paramref name="iteration"/> is no longer due: its turn ended (completed, failed or
    /// cancelled), or that iteration already has its answer (each iteration commits one <c>output.message.completed</c>
    /// with what follows it), as the turn state would say: such a step is a redelivery and does nothing.
    /// </summary>
    public static bool Outdated(IReadOnlyList<RecordedSessionEvent> read, string turnId, int iteration)
    {
        var answered = 0;
        foreach (var e in read)
        {
            if (e.Context.TurnId != turnId) continue;
            if (e.Type is EventTypes.TurnCompleted or EventTypes.TurnFailed or EventTypes.TurnCancelled) return true;
            if (e.Type == EventTypes.OutputMessageCompleted) answered++;
        }

        return answered >= iteration;
    }
}
