namespace Everruns.Host.Telemetry;

/// <summary>
/// Console logs: JSON lines by default (LOG_FORMAT=json; <c>simple</c> for people), at LOG_LEVEL (Information).
/// ASP.NET Core's per-request lines are kept at Warning unless LOG_LEVEL asks for Debug or Trace. Nothing logs a
/// connection string, token or key: the database is named by host and application name only.
/// </summary>
public static class Logging
{
    public static void AddEverrunsLogging(this WebApplicationBuilder builder)
    {
        var raw = builder.Configuration["LOG_LEVEL"];
        var level = LogLevel.Information;
        if (!string.IsNullOrWhiteSpace(raw) && !Enum.TryParse(raw, ignoreCase: true, out level))
            throw new InvalidOperationException($"LOG_LEVEL must be Trace, Debug, Information, Warning, Error, Critical or None, got '{raw}'");

        var format = builder.Configuration["LOG_FORMAT"] is { Length: > 0 } f ? f.ToLowerInvariant() : "json";
        if (format is not ("json" or "simple"))
            throw new InvalidOperationException($"LOG_FORMAT must be json or simple, got '{format}'");

        builder.Logging.ClearProviders();
        if (format == "json")
            builder.Logging.AddJsonConsole(json =>
            {
                json.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
                json.UseUtcTimestamp = true;
                json.JsonWriterOptions = new System.Text.Json.JsonWriterOptions
                {
                    Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
                };
            });
        else
            builder.Logging.AddSimpleConsole(simple => simple.SingleLine = false);

        builder.Logging.SetMinimumLevel(level);
        if (level >= LogLevel.Information)
        {
            builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
            builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Information);
        }
    }
}
