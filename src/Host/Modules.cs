using Everruns.Contracts;

namespace Everruns.Host;

/// <summary>Every business capability this deployable hosts.</summary>
public static class Modules
{
    public static IReadOnlyList<IEverrunsModule> All { get; } =
    [
        new Everruns.Modules.Agents.AgentsModule(),
    ];
}
