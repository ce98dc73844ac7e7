namespace Everruns.Contracts;

/// <summary>Capabilities this server implements; anything else named in a request is rejected.</summary>
public static class BuiltInCapabilities
{
    public const string CurrentTime = "current_time";

    public static IReadOnlyList<(string Id, string Name, string Description)> All { get; } =
    [
        (CurrentTime, "Current time", "Tells the agent the current date and time (UTC or a given IANA time zone)."),
    ];

    public static bool IsKnown(string id) => All.Any(c => c.Id == id);
}
