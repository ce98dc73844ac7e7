using Everruns.Contracts;
using Everruns.Infrastructure;
using Marten;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Everruns.Modules.Execution;

/// <summary>Runs agent turns: the durable turn steps, the model drivers and the built-in tools.</summary>
public sealed class ExecutionModule : IEverrunsModule
{
    public string Name => "execution";

    public void AddServices(IServiceCollection services, IConfiguration configuration)
    {
        services.ConfigureMarten(marten =>
        {
            marten.Schema.For<SessionTurns>().UseOptimisticConcurrency(true);
            // The last beat of each running turn's step (see TurnHeartbeat), upserted in place.
            var heartbeats = new Weasel.Postgresql.Tables.Table("everruns.turn_heartbeats");
            heartbeats.AddColumn("session_id", "text").AsPrimaryKey();
            heartbeats.AddColumn("turn_id", "text").NotNull();
            heartbeats.AddColumn("instance_id", "text").NotNull();
            heartbeats.AddColumn("beat_at", "timestamptz").NotNull();
            marten.Storage.ExtendedSchemaObjects.Add(heartbeats);
            // The sessions with a turn running (see ActiveTurns): what reap_stale_turns reads instead of every turn state.
            var active = new Weasel.Postgresql.Tables.Table("everruns.active_turns");
            active.AddColumn("session_id", "text").AsPrimaryKey();
            active.AddColumn("turn_id", "text").NotNull();
            active.AddColumn("tenant_id", "text").NotNull();
            active.AddColumn("started_at", "timestamptz").NotNull();
            marten.Storage.ExtendedSchemaObjects.Add(active);
            marten.Schema.For<StoredValue>().Index(v => v.SessionId);
        });
        services.AddSingleton(ModelOptions.From(configuration));
        services.AddSingleton(WebFetchOptions.From(configuration));
        services.AddSingleton<WebFetch>();
        services.AddSingleton<Tools>();
        services.AddSingleton<Usage>();
        services.AddSingleton(new ClientToolOptions(Settings.Seconds(configuration, "CLIENT_TOOL_TIMEOUT_SECS", 300)));
        services.AddSingleton<TurnProgress>();
        services.AddSingleton<ConversationCache>();
        services.ConfigureMarten((sp, marten) => marten.Listeners.Add(new KeepCommittedConversation(sp.GetRequiredService<ConversationCache>())));
        services.AddSingleton<ModelDrivers>();
        services.AddSingleton<IProviderModelLister>(sp => sp.GetRequiredService<ModelDrivers>());
        services.AddSingleton<ModelRetries>();
        services.AddSingleton<ModelCatalog>();
        services.AddSingleton<IModelDirectory, ModelDirectory>();
        services.AddSingleton<ISessionActivities, SessionActivities>();
        services.AddSingleton(new TurnHeartbeatOptions(Settings.Seconds(configuration, "TURN_HEARTBEAT_SECS", 5)));
        services.AddSingleton<TurnHeartbeat>();
    }

    /// <summary>
    /// A model-call step waits on the model for seconds without holding a database connection: TURN_CONCURRENCY
    /// (200) of them may run at once on an instance, far more than the other handlers' HANDLER_PARALLELISM.
    /// </summary>
    public void ConfigureWolverine(Wolverine.WolverineOptions wolverine, IConfiguration configuration)
    {
        wolverine.PublishMessage<RunTurnStep>().ToLocalQueue(TurnStepQueue);
        wolverine.Policies.Add(new LocalQueueParallelism(TurnStepQueue, (int)Settings.Positive(configuration, "TURN_CONCURRENCY", 200)));
    }

    public const string TurnStepQueue = "turn-steps";

}
