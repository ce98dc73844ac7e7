using Everruns.Contracts;
using Everruns.Infrastructure;
using Marten;
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
        });
        services.AddSingleton(SseOptions.From(configuration));
        services.AddSingleton<SessionSignals>();
        services.AddSingleton<ISessionSignals>(sp => sp.GetRequiredService<SessionSignals>());
        services.AddSingleton<SessionEventReader>();
        services.AddSingleton<ISessionEventLog, SessionEventLog>();
        services.AddSingleton<SharedEventReads>();
        services.AddSingleton<SessionFanOut>();
        services.AddSingleton<EventNotifier>();
        services.AddHostedService(sp => sp.GetRequiredService<EventNotifier>());
        services.ConfigureMarten((sp, marten) => marten.Listeners.Add(new CommittedEvents(sp)));
        services.AddSingleton<SseLimits>();
        services.AddSingleton<NotificationListener, EventListener>();
    }

    public void MapEndpoints(Microsoft.AspNetCore.Routing.IEndpointRouteBuilder endpoints) => StreamEventsEndpoint.Map(endpoints);

    // Every committed event wakes listeners on every instance. The payload names the session, the sequence and the
    // event type (so that a waiter filtering by type is woken only by those): receivers read the event from the store.
    // This build's instances notify of their own commits after them (EventNotifier); their connections say so
    // (EventNotifications.ConnectionOption), and the trigger notifies of every other writer's events.
    public IEnumerable<string> SchemaSql =>
    [
        """
        create or replace function everruns.notify_event_available() returns trigger language plpgsql as $$
        begin
            perform pg_notify('event_available', new.stream_id || ':' || new.version || ':' || new.type);
            return null;
        end $$;
        """,
        $"""
        create or replace trigger trg_event_available after insert on everruns.mt_events
            for each row when (current_setting('{EventNotifications.Setting}', true) is distinct from 'app')
            execute function everruns.notify_event_available();
        """,
        """
        create table if not exists everruns_ops.event_counts_minutely (
            minute timestamptz not null,
            event_type text not null,
            count bigint not null,
            primary key (minute, event_type)
        );
        create table if not exists everruns_ops.event_rollup_marks (
            taken_at timestamptz primary key,
            seq_id bigint not null
        );
        """,
    ];
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
