using System.Text.Json;
using Everruns.Contracts;
using Everruns.Infrastructure;
using Everruns.Host.Api;
using Everruns.Host.Configuration;
using Everruns.Host.Health;
using Everruns.Host.Operations;
using Everruns.Host.Schema;
using Everruns.Host.Telemetry;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using JasperFx;
using JasperFx.Events;
using Marten;
using Npgsql;
using Weasel.Core;
using Wolverine;
using Wolverine.Http;
using Wolverine.Marten;

namespace Everruns.Host;

/// <summary>The composition root: configuration, Marten + Wolverine wiring, modules, health.</summary>
public static class EverrunsComposition
{
    public static readonly JsonNamingPolicy Naming = JsonNamingPolicy.SnakeCaseLower;

    /// <summary>How long a handled message stays in Wolverine's inbox, and how often the expired ones are swept.</summary>
    private static readonly TimeSpan HandledKeep = TimeSpan.FromSeconds(10);

    public static WebApplicationBuilder AddEverruns(this WebApplicationBuilder builder, StartupFlags flags)
    {
        var options = EverrunsOptions.From(builder.Configuration);
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(flags);
        builder.Services.AddSingleton(new InstanceIdentity(options.InstanceId, options.ExpectedInstances, BuildInfo.Version));
        builder.Services.AddSingleton(new ShutdownSettings(options.ShutdownGrace));
        // The host waits this long for in-flight work, plus a margin to hand unfinished turns on and close the pool.
        builder.Services.Configure<HostOptions>(host =>
            host.ShutdownTimeout = options.ShutdownDrain + options.ShutdownGrace + TimeSpan.FromSeconds(10));
        builder.Services.AddHostedService<ShutdownDrain>();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            Listen(kestrel, options.Host, options.Port, HttpProtocols.Http1AndHttp2);
            // Kestrel cannot tell HTTP/1.1 from cleartext HTTP/2 on one port (that needs TLS/ALPN): load balancers
            // that speak h2c to their upstreams get a port of their own.
            if (options.H2cPort is { } h2c) Listen(kestrel, options.Host, h2c, HttpProtocols.Http2);
            // Sized for many SSE streams per connection.
            kestrel.Limits.Http2.InitialStreamWindowSize = options.Http2StreamWindowSize;
            kestrel.Limits.Http2.InitialConnectionWindowSize = options.Http2ConnectionWindowSize;
            kestrel.Limits.Http2.MaxStreamsPerConnection = options.Http2MaxConcurrentStreams;
            kestrel.Limits.Http2.KeepAlivePingDelay = TimeSpan.FromSeconds(20);
            kestrel.Limits.Http2.KeepAlivePingTimeout = TimeSpan.FromSeconds(20);
        });
        builder.AddEverrunsTelemetry(options);
        builder.AddEverrunsLogging();

        builder.Services.AddSingleton(_ => NpgsqlDataSource.Create(options.ConnectionString));
        // Shared by the modules that tell time (token expiry, rate-limit windows, turn heartbeats).
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<Readiness>();
        builder.Services.AddSingleton<SystemProbe>();
        builder.Services.AddSingleton<SchemaMigrator>();
        builder.Services.AddSingleton<ICommandPreparation, Operations.CommandPreparation>();
        // Registered before Marten and Wolverine so that it runs (and finishes) before they touch their tables.
        builder.Services.AddHostedService<SchemaMigrationService>();

        builder.Services.AddProblemDetails(problems => problems.CustomizeProblemDetails = OneProblemShape.Apply);
        builder.Services.AddExceptionHandler<DatabaseUnavailable>();
        builder.Services.AddExceptionHandler<ConflictingWrite>();
        builder.Services.AddExceptionHandler<RejectedRequest>();
        builder.Services.ConfigureHttpJsonOptions(json =>
        {
            json.SerializerOptions.PropertyNamingPolicy = Naming;
            json.SerializerOptions.DictionaryKeyPolicy = null;
            // Optional fields are absent rather than null (e.g. next_url on the last page).
            json.SerializerOptions.DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull;
            // A request field this server does not implement is refused (400 unknown_field, naming it), never dropped.
            json.SerializerOptions.UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow;
            // A number is a JSON number ("5" is refused where an integer is expected), as the contract's types say.
            json.SerializerOptions.NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.Strict;
        });

        foreach (var module in Modules.All)
            module.AddServices(builder.Services, builder.Configuration);
        builder.Services.AddHostedService<ListenConnection>(); // one LISTEN connection for the modules' channels

        // SchemaMigrator applies Wolverine's tables under the advisory lock before Wolverine starts, so its
        // own start-up check finds nothing left to do; with --no-migrations nothing may touch the schema.
        var messageStorage = flags.SkipMigrations ? AutoCreate.None : AutoCreate.CreateOrUpdate;
        builder.Services.AddMarten(marten =>
            {
                marten.DatabaseSchemaName = "everruns";
                // The schema is applied by SchemaMigrator under an advisory lock, never lazily.
                marten.AutoCreateSchemaObjects = AutoCreate.None;
                marten.Events.StreamIdentity = StreamIdentity.AsString;
                marten.UseSystemTextJsonForSerialization(EnumStorage.AsString, Casing.SnakeCase);
                // Every document belongs to an org (Marten's tenant, a tenant_id column): a session opened for an org sees
                // its documents only, whatever the query forgets to say. An HTTP request's org is its tenant (see
                // MapWolverineEndpoints below), and the messages a handler sends carry it on; jobs that work across orgs
                // say so (AnyTenant, ForTenant).
                marten.Policies.AllDocumentsAreMultiTenanted();
                marten.Storage.ExtendedSchemaObjects.Add(SchemaMigrator.Ledger());
                marten.Schema.For<IdempotentResponse>().UseOptimisticConcurrency(true).Index(r => r.CreatedAt)
                    .Metadata(m => m.Version.MapTo(r => r.Version));
            })
            .UseNpgsqlDataSource()
            .UseLightweightSessions()
            .IntegrateWithWolverine(w =>
            {
                w.MessageStorageSchemaName = SchemaMigrator.WolverineSchema;
                w.AutoCreate = messageStorage;
            });

        builder.Host.UseWolverine(wolverine =>
        {
            wolverine.ServiceName = "everruns";
            wolverine.AutoBuildMessageStorageOnStartup = messageStorage;
            wolverine.Durability.Mode = DurabilityMode.Balanced;
            // A node that stops heart-beating (crash, kill -9) has its durable work (turn steps) taken over by the others.
            wolverine.Durability.HealthCheckPollingTime = options.NodeHealthCheck;
            wolverine.Durability.StaleNodeTimeout = options.NodeStaleAfter;
            // A step whose in-memory hand-off to its local queue was lost stays claimed by a live node, which nothing
            // else recovers while that node lives: released after this long, it runs again on whichever node takes it.
            // Rows a node still holds (queued or running, however long) keep their claim fresh (Wolverine's custody
            // heartbeat, a third of this period), so they are never released from under it.
            wolverine.Durability.InboxStaleTime = options.InboxStaleAfter;
            // A handled message is kept in the inbox to turn away a broker's redelivery of it; Everruns receives from no
            // broker (its queues are local), so its handled steps go after 10 s instead of Wolverine's 5 minutes, swept
            // every 10 s instead of every minute (up to 100,000 rows a sweep): the inbox holds seconds of a busy
            // cluster's steps instead of minutes, and never falls behind below 10,000 messages a second.
            wolverine.Durability.KeepAfterMessageHandling = HandledKeep;
            wolverine.Durability.HandledMessageCleanupPollingTime = HandledKeep;
            wolverine.Policies.AutoApplyTransactions();
            wolverine.Policies.UseDurableLocalQueues();
            // Wolverine runs as many messages of a local queue at once as there are cores by default: on a small
            // machine that serialized the whole pipeline behind two handlers waiting on PostgreSQL round trips.
            wolverine.Policies.AllLocalQueues(queue => queue.MaximumParallelMessages(options.HandlerParallelism));
            // A module's handler of a published message runs on its own, in its own transaction: Execution
            // starting a turn and Sessions updating its preview never fail or retry together.
            wolverine.MultipleHandlerBehavior = MultipleHandlerBehavior.Separated;
            wolverine.ApplyFailurePolicies(options.DatabaseRetryBudget);
            foreach (var module in Modules.All)
            {
                wolverine.Discovery.IncludeAssembly(module.Assembly);
                module.ConfigureWolverine(wolverine, builder.Configuration);
            }
        });
        builder.Services.AddWolverineHttp();
        builder.Services.AddApiReference();
        return builder;
    }

    private static void Listen(KestrelServerOptions kestrel, string host, int port, HttpProtocols protocols)
    {
        Action<ListenOptions> configure = listen => listen.Protocols = protocols;
        if (host is "0.0.0.0" or "*" or "::") kestrel.ListenAnyIP(port, configure);
        else if (host == "localhost") kestrel.ListenLocalhost(port, configure);
        else kestrel.Listen(System.Net.IPAddress.Parse(host), port, configure);
    }

    public static WebApplication MapEverruns(this WebApplication app)
    {
        var options = app.Services.GetRequiredService<EverrunsOptions>();
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Everruns.Host");
        logger.LogInformation("Everruns {Version} instance {Instance} (application name {ApplicationName})",
            BuildInfo.Version, options.InstanceId, options.ApplicationName);
        if (PoolSizing.Warning(options) is { } warning)
            logger.LogWarning("{PoolWarning}", warning);

        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseMiddleware<Draining>();
        foreach (var module in Modules.All)
            module.UsePipeline(app);
        app.UseMiddleware<IdempotencyKeys>(); // after authentication: keys are per org
        app.MapHealth();
        app.MapMetrics();
        app.MapOperations();
        // Wolverine.Http serializes with the ASP.NET Core JSON options configured above (snake_case).
        app.MapWolverineEndpoints(http => http.TenantId.IsClaimTypeNamed(CallerExtensions.OrgClaim));
        foreach (var module in Modules.All)
            module.MapEndpoints(app);
        app.MapApiReference();
        return app;
    }
}
