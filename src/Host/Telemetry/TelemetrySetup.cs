using Everruns.Infrastructure;
using Everruns.Host.Configuration;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Everruns.Host.Telemetry;

/// <summary>
/// OpenTelemetry: metrics always (Prometheus text at <c>/metrics</c>): Everruns' own counters, Wolverine's message
/// metrics, Npgsql's pool gauges, ASP.NET Core's request-duration histogram by route and status, the runtime.
/// Traces (Wolverine, Marten, Npgsql and ASP.NET Core activities, joined) go to OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set.
/// </summary>
public static class TelemetrySetup
{
    public static void AddEverrunsTelemetry(this WebApplicationBuilder builder, EverrunsOptions options)
    {
        var otel = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService("everruns", serviceVersion: BuildInfo.Version,
                serviceInstanceId: options.InstanceId))
            .WithMetrics(metrics => metrics
                .AddMeter(EverrunsMetrics.MeterName, "Wolverine*", "Npgsql", "Marten*")
                .AddAspNetCoreInstrumentation()
                .AddRuntimeInstrumentation()
                // No scrape cache: every scrape shows the counters as they are.
                .AddPrometheusExporter(prometheus => prometheus.ScrapeResponseCacheDurationMilliseconds = 0));

        if (!string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
            otel.WithTracing(tracing => tracing
                .AddSource("Wolverine", "Marten", "Npgsql")
                .AddAspNetCoreInstrumentation()
                .AddOtlpExporter());
    }

    public static void MapMetrics(this WebApplication app) => app.MapPrometheusScrapingEndpoint("/metrics").AllowAnonymous();
}
