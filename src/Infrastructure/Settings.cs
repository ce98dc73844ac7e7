using System.Globalization;
using Microsoft.Extensions.Configuration;

namespace Everruns.Infrastructure;

/// <summary>Environment settings read once at start: a malformed value stops the process with a clear message.</summary>
public static class Settings
{
    /// <summary>A positive number (fractions allowed), or <paramref name="fallback"/> when unset.</summary>
    public static double Positive(IConfiguration configuration, string key, double fallback)
    {
        var raw = configuration[key];
        if (string.IsNullOrWhiteSpace(raw)) return fallback;
        return double.TryParse(raw, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && value > 0
            ? value
            : throw new InvalidOperationException($"{key} must be a positive number, got '{raw}'");
    }

    public static TimeSpan Seconds(IConfiguration configuration, string key, double fallback) =>
        TimeSpan.FromSeconds(Positive(configuration, key, fallback));
}
