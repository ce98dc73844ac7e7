using Everruns.Contracts;
using Everruns.Infrastructure;
using Marten;
using Weasel.Core;
using Weasel.Core.Migrations;
using Weasel.Postgresql.Functions;
using Weasel.Postgresql.Tables;
using Weasel.Postgresql.Triggers;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Everruns.Modules.Events;

public sealed class EventsModule : IEverrunsModule
{
    public string Name => "events";

    public void AddServices(IServiceCollection services, IConfiguration configuration)
    {
        services.ConfigureMarten(marten =>
        {
            // Each event record is a Marten event type named as the protocol names it; its context is the event's headers.
            foreach (var (name, record) in EventTypes.Records) marten.Events.MapEventType(record, name);
            marten.Events.MetadataConfig.HeadersEnabled = true;
            marten.Storage.ExtendedSchemaObjects.AddRange(SchemaObjects());
            marten.Storage.Add(new EventNotificationSchema(marten.Advanced.Migrator));
        });
        services.AddSingleton(SseOptions.From(configuration));
        services.AddSingleton<SessionSignals>();
        services.AddSingleton<ISessionSignals>(sp => sp.GetRequiredService<SessionSignals>());
        services.AddSingleton<SessionEventReader>();
        services.AddSingleton<ISessionEventLog, SessionEventLog>();
        services.AddSingleton<ISessionEventForks, SessionEventForks>();
        services.AddSingleton<SharedEventReads>();
        services.AddSingleton<SessionFanOut>();
        services.AddSingleton<EventNotifier>();
        services.AddHostedService(sp => sp.GetRequiredService<EventNotifier>());
        services.ConfigureMarten((sp, marten) => marten.Listeners.Add(new CommittedEvents(sp)));
        services.AddSingleton<SseLimits>();
        services.AddSingleton<NotificationListener, EventListener>();
    }

    public void MapEndpoints(Microsoft.AspNetCore.Routing.IEndpointRouteBuilder endpoints)
    {
        StreamEventsEndpoint.Map(endpoints);
        ExportSessionEndpoint.Map(endpoints);
    }

    // Tables and functions of the module's own, declared to Marten beside its documents.
    private static IEnumerable<ISchemaObject> SchemaObjects()
    {
        // The maintenance roll-up's counts and marks (see RollUpMetricsHandler).
        var counts = new Table("everruns_ops.event_counts_minutely");
        counts.AddColumn("minute", "timestamptz").AsPrimaryKey();
        counts.AddColumn("event_type", "text").AsPrimaryKey();
        counts.AddColumn("count", "bigint").NotNull();
        yield return counts;
        var marks = new Table("everruns_ops.event_rollup_marks");
        marks.AddColumn("taken_at", "timestamptz").AsPrimaryKey();
        marks.AddColumn("seq_id", "bigint").NotNull();
        yield return marks;
    }
}

public sealed record SseOptions(
    TimeSpan Heartbeat, TimeSpan ConnectionCycle, int MaxConnections, int MaxConnectionsPerOrg, int MaxConnectionsPerSession,
    TimeSpan CatchUp)
{
    public static SseOptions From(IConfiguration configuration) => new(
        Settings.Seconds(configuration, "SSE_HEARTBEAT_INTERVAL_SECS", 30),
        Settings.Seconds(configuration, "SSE_CONNECTION_CYCLE_SECS", 300),
        (int)Settings.Positive(configuration, "SSE_MAX_CONNECTIONS", 10_000),
        (int)Settings.Positive(configuration, "SSE_MAX_CONNECTIONS_PER_ORG", 2_000),
        (int)Settings.Positive(configuration, "SSE_MAX_CONNECTIONS_PER_SESSION", 20),
        Settings.Seconds(configuration, "SSE_CATCH_UP_SECS", 30));
}

/// <summary>
/// Every committed event wakes listeners on every instance. The payload names the session, the sequence and the event
/// type (so that a waiter filtering by type is woken only by those): receivers read the event from the store. This
/// build's instances notify of their own commits after them (EventNotifier); their connections say so
/// (<see cref="EventNotifications.ConnectionOption"/>), and the trigger notifies of every other writer's events. A
/// feature of its own: Marten applies it after its event tables, which the trigger is on.
/// </summary>
public sealed class EventNotificationSchema(Migrator migrator) : FeatureSchemaBase("event_notifications", migrator)
{
    protected override IEnumerable<ISchemaObject> schemaObjects()
    {
        // Written as PostgreSQL shows them back (pg_get_functiondef, pg_get_triggerdef): Marten compares the two to know
        // whether a migration must replace them.
        yield return Function.ForSql("""
            CREATE OR REPLACE FUNCTION everruns.notify_event_available()
             RETURNS trigger
             LANGUAGE plpgsql
            AS $function$
            begin
                perform pg_notify('event_available', new.stream_id || ':' || new.version || ':' || new.type);
                return null;
            end $function$;
            """);
        yield return new Trigger("everruns.trg_event_available", "everruns.mt_events", "everruns.notify_event_available()")
        {
            Timing = TriggerTiming.After,
            Events = TriggerEvents.Insert,
            Condition = $"(current_setting('{EventNotifications.Setting}'::text, true) is distinct from 'app'::text)",
        };
    }
}
