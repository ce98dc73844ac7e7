using Everruns.Infrastructure;
namespace Everruns.Host.Telemetry;

/// <summary>
/// Console logs at LOG_LEVEL (Information): plain lines for a person at a terminal, JSON lines otherwise (a container, a
/// file, a log shipper), unless LOG_FORMAT says <c>simple</c> or <c>json</c>. ASP.NET Core's per-request lines and
/// Marten's schema SQL are kept at Warning unless LOG_LEVEL asks for Debug or Trace. Nothing logs a connection string,
/// token or key: the database is named by host and application name only.
/// </summary>
public static class Logging
{
    public static void AddEverrunsLogging(this WebApplicationBuilder builder)
    {
        var raw = builder.Configuration["LOG_LEVEL"];
        var level = LogLevel.Information;
        if (!string.IsNullOrWhiteSpace(raw) && !Enum.TryParse(raw, ignoreCase: true, out level))
            throw new SettingException($"LOG_LEVEL must be Trace, Debug, Information, Warning, Error, Critical or None, got '{raw}'");

        var format = builder.Configuration["LOG_FORMAT"] is { Length: > 0 } f
            ? f.ToLowerInvariant()
            : Console.IsOutputRedirected ? "json" : "simple";
        if (format is not ("json" or "simple"))
            throw new SettingException($"LOG_FORMAT must be json or simple, got '{format}'");

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
            builder.Logging.AddSimpleConsole(simple =>
            {
                simple.SingleLine = true;
                simple.TimestampFormat = "HH:mm:ss ";
            });

        builder.Logging.SetMinimumLevel(level);
        if (level >= LogLevel.Information)
        {
            builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
            builder.Logging.AddFilter("Marten.IDocumentStore", LogLevel.Warning); // the schema SQL each migration runs
            builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Information);
        }

        // "Hosting failed to start" repeats, with a stack trace, the exception Program.cs reports itself: as one line
        // for a setting, in full (unhandled) for anything else.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical);
    }
}
