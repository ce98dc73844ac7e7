using Everruns.Contracts;
using Marten;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Everruns.Modules.Sessions;

public sealed class SessionsModule : IEverrunsModule
{
    public string Name => "sessions";

    public void AddServices(IServiceCollection services, IConfiguration configuration)
    {
        services.ConfigureMarten(marten =>
        {
            marten.Schema.For<Session>()
                .Index(x => x.OrgId)
                .Index(x => x.AgentId)
                .Index(x => x.CreatedAt)
                // Only deleted sessions, for purge_deleted_sessions: without it, each run read every session.
                .Index(x => x.DeletedAt!, index => index.Predicate = "data ->> 'deleted_at' is not null");
        });
        services.AddSingleton<SessionCache>();
        services.AddSingleton<SessionChanges>();
        services.AddSingleton<NotificationListener>(sp => sp.GetRequiredService<SessionChanges>());
    }

    /// <summary>
    /// Instances of earlier builds publish every turn's two status changes (<see cref="SessionActivityChanged"/>): during a
    /// rolling upgrade they are applied in batches (one transaction for up to 100 of them, gathered for at most 50 ms).
    /// This build's turns keep their activity with the turn state (see <see cref="GetSessionActivity"/>).
    /// </summary>
    public void ConfigureWolverine(Wolverine.WolverineOptions wolverine, IConfiguration configuration) =>
        wolverine.BatchMessagesOf<SessionActivityChanged>(batch =>
        {
            batch.BatchSize = 100;
            batch.TriggerTime = TimeSpan.FromMilliseconds(50);
        });
}
