using System.Globalization;
using Microsoft.Extensions.Configuration;

namespace Everruns.Infrastructure;

/// <summary>
/// A setting that is missing or malformed: the process stops with its message as one line and exit code 1 (Program.cs),
/// no stack trace. The message names the variable and what it must be.
/// </summary>
public sealed class SettingException(string message) : InvalidOperationException(message)
{
    /// <summary>The setting error behind an exception (as thrown, or wrapped by the host or the container), if any.</summary>
    public static SettingException? In(Exception? exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is SettingException setting) return setting;
            if (e is AggregateException { InnerExceptions.Count: > 0 } many) return many.InnerExceptions.Select(In).FirstOrDefault(x => x is not null);
        }

        return null;
    }
}

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
            : throw new SettingException($"{key} must be a positive number, got '{raw}'");
    }

    public static TimeSpan Seconds(IConfiguration configuration, string key, double fallback) =>
        TimeSpan.FromSeconds(Positive(configuration, key, fallback));
}
