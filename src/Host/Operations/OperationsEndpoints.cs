using Everruns.Contracts;
using Everruns.Infrastructure;
using Everruns.Host.Configuration;

namespace Everruns.Host.Operations;

/// <summary>
/// /conformance and /status (public), /v1/admin/system-health and /v1/admin/support-bundle (deployment
/// administrators: the bootstrap admin, or any user created with system admin rights).
/// </summary>
public static class OperationsEndpoints
{
    public const string ApiVersion = "v1";

    public static void MapOperations(this IEndpointRouteBuilder app)
    {
        app.MapGet("/conformance", () => Results.Json(new
        {
            version = BuildInfo.Version.Split('+')[0],
            api_version = ApiVersion,
            build = BuildInfo.Version,
            implementation = "everruns-dotnet",
        })).AllowAnonymous();

        app.MapGet("/status", async (SystemProbe probe, InstanceIdentity identity, CancellationToken ct) =>
        {
            var (ok, latency, error) = await probe.PingAsync(ct);
            return Results.Json(new
            {
                status = ok ? "ok" : "degraded",
                version = BuildInfo.Version.Split('+')[0],
                instance_id = identity.InstanceId,
                database = new { status = ok ? "ok" : "unreachable", latency_ms = latency, error },
            }, statusCode: ok ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
        }).AllowAnonymous();

        var admin = app.MapGroup("/v1/admin").RequireAuthorization(Policies.DeploymentAdmin);

        admin.MapGet("/system-health", async (SystemProbe probe, CancellationToken ct) => Results.Json(await probe.HealthAsync(ct)))
            .Produces<Dictionary<string, object>>()
            .WithDescription("The deployment's health checks by name (database, schema, cluster...), each with its status and figures.");

        admin.MapGet("/support-bundle", async (SystemProbe probe, IConfiguration configuration, EverrunsOptions options, CancellationToken ct) =>
        {
            var health = await probe.HealthAsync(ct);
            object? database;
            try
            {
                database = await probe.DatabaseAsync(ct);
            }
            catch (Npgsql.NpgsqlException e)
            {
                database = new { error = e.Message };
            }

            return Results.Json(new Dictionary<string, object?>
            {
                ["generated_at"] = DateTimeOffset.UtcNow,
                ["version"] = new { version = BuildInfo.Version, api_version = ApiVersion, instance_id = options.InstanceId, runtime = Environment.Version.ToString() },
                ["config"] = Redaction.Configuration(configuration),
                ["health"] = health,
                ["database"] = database,
            });
        })
            .Produces<Dictionary<string, object>>()
            .WithDescription("A support bundle: version, redacted configuration, health and database figures, to attach to a bug report.");
    }
}
