namespace Everruns.Contracts;

// What a module lets the others read, in process: each interface is implemented by the module that owns the data and
// injected where it is needed (a question is a method call, not a request/reply message).

/// <summary>Sessions: live sessions and what their turns run with (cached per instance).</summary>
public interface ISessionDirectory
{
    /// <summary>The live session in the org, with its runtime; <see cref="SessionFound.Session"/> null when absent, deleted or another org's.</summary>
    Task<SessionFound> FindAsync(string orgId, string sessionId, CancellationToken ct = default);

    /// <summary>What a turn of the session runs with; null once the session is gone.</summary>
    Task<SessionRuntime?> RuntimeAsync(string sessionId, CancellationToken ct = default);
}

/// <summary>Events: a session's stored events.</summary>
public interface ISessionEventLog
{
    Task<IReadOnlyList<RecordedSessionEvent>> ReadAsync(ReadSessionEvents query, CancellationToken ct = default);

    Task<SessionEventsPage> PageAsync(PageSessionEvents query, CancellationToken ct = default);
}

/// <summary>Providers: an org's credentials for a provider type (its oldest active connection of that type), the key opened in memory.</summary>
public interface IProviderCredentials
{
    Task<ProviderCredentialsFound> FindAsync(string orgId, string providerType, CancellationToken ct = default);

    /// <summary>Whether the org has a provider connection with this id.</summary>
    Task<bool> ExistsAsync(string orgId, string providerId, CancellationToken ct = default);
}

/// <summary>Agents: an agent of an org, by id or by name.</summary>
public interface IAgentDirectory
{
    /// <summary>
    /// The agent (by <paramref name="agentId"/>, else by <paramref name="agentName"/>) in the org as new sessions run it: its
    /// default version, else its latest; null when absent or another org's.
    /// </summary>
    Task<AgentSnapshot?> FindAsync(string orgId, string? agentId, string? agentName, CancellationToken ct = default);

    /// <summary>The agent as one of its versions has it (<see cref="AgentSnapshot.VersionId"/>); null when the org has no such version.</summary>
    Task<AgentSnapshot?> VersionAsync(string orgId, string versionId, CancellationToken ct = default);

    /// <summary>How many of the org's active agents run on the harness (one in use cannot be deleted).</summary>
    Task<long> UsingHarnessAsync(string orgId, string harnessId, CancellationToken ct = default);
}

/// <summary>Identity: an org's defaults that other modules apply.</summary>
public interface IOrgDefaults
{
    /// <summary>The model a session of the org runs on when neither it nor its agent names one; null when the org has none.</summary>
    Task<string?> ModelAsync(string orgId, CancellationToken ct = default);

    /// <summary>The harness the org's new agents and bare sessions run on when they name none; null for the built-in one.</summary>
    Task<string?> HarnessAsync(string orgId, CancellationToken ct = default);
}

/// <summary>Execution: the models this server runs turns with.</summary>
public interface IModelDirectory
{
    /// <summary>
    /// The public id of the model named by <paramref name="idOrName"/>: one the deployment configures or one of the org's
    /// provider connections; null when neither has it.
    /// </summary>
    Task<string?> FindAsync(string orgId, string idOrName, CancellationToken ct = default);
}

/// <summary>Execution: what sessions are doing, from their turn states (one read for all of them).</summary>
public interface ISessionActivities
{
    /// <summary>Each session's activity; a session absent from the answer has had no message yet.</summary>
    Task<IReadOnlyDictionary<string, SessionActivity>> OfAsync(string orgId, IReadOnlyList<string> sessionIds, CancellationToken ct = default);
}

/// <summary>Sessions: what an org's sessions (all, or one agent's) add up to, for the stats routes.</summary>
public interface ISessionStats
{
    Task<ResourceStats> OfAsync(string orgId, string? agentId, CancellationToken ct = default, string? harnessId = null);

    /// <summary>How many live sessions of the org were opened on the harness.</summary>
    Task<long> CountOnHarnessAsync(string orgId, string harnessId, CancellationToken ct = default);
}

/// <summary>
/// Sessions by status, turns (<c>execution_count</c>), tokens and cost, and when they ran. Costs add up the sessions whose
/// every turn had a price (MODEL_PRICES); none is reported by providers here, so <c>total_actual_cost_usd</c> is 0.
/// </summary>
public sealed record ResourceStats(
    long SessionCount, long StartedSessionCount, long ActiveSessionCount, long IdleSessionCount, long WaitingForToolResultsSessionCount,
    long ExecutionCount, long TotalInputTokens, long TotalOutputTokens, long TotalCacheReadTokens, long TotalCacheCreationTokens,
    double TotalCostUsd, double TotalActualCostUsd, double TotalEstimatedCostUsd, long TotalSessionDurationMs, long? AvgSessionDurationMs,
    DateTimeOffset? FirstSessionAt, DateTimeOffset? LastSessionAt, DateTimeOffset? LastExecutionAt);
