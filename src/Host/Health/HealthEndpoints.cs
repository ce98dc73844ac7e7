namespace Everruns.Host.Health;

public static class HealthEndpoints
{
    public static void MapHealth(this IEndpointRouteBuilder app)
    {
        // Liveness: the process answers; never touches the database, never behind auth.
        app.MapGet("/health", () => Results.Json(new { status = "ok" }))
            .AllowAnonymous().ExcludeFromDescription();

        app.MapGet("/health/ready", async (Readiness readiness, CancellationToken ct) =>
        {
            var report = await readiness.CheckAsync(ct);
            return report.IsReady
                ? Results.Json(new { status = report.Status })
                : Results.Json(new { status = report.Status, reason = report.Reason, detail = report.Detail },
                    statusCode: StatusCodes.Status503ServiceUnavailable);
        }).AllowAnonymous().ExcludeFromDescription();
    }
}
