using Everruns.Infrastructure;

namespace Everruns.Host;

/// <summary>Every business capability this deployable hosts.</summary>
public static class Modules
{
    public static IReadOnlyList<IEverrunsModule> All { get; } =
    [
        new Everruns.Modules.Identity.IdentityModule(),
        new Everruns.Modules.Agents.AgentsModule(),
        new Everruns.Modules.Sessions.SessionsModule(),
        new Everruns.Modules.Messages.MessagesModule(),
        new Everruns.Modules.Events.EventsModule(),
        new Everruns.Modules.Execution.ExecutionModule(),
        new Everruns.Modules.Cluster.ClusterModule(),
        new Everruns.Modules.Providers.ProvidersModule(),
        new Everruns.Modules.Workspaces.WorkspacesModule(),
        new Everruns.Modules.Budgets.BudgetsModule(),
        new Everruns.Modules.Harnesses.HarnessesModule(),
        new Everruns.Modules.Dashboard.DashboardModule(),
    ];
}
