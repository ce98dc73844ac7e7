using Everruns.Contracts;
using Everruns.Infrastructure;
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
                .Index(x => x.AgentId)
                .Index(x => x.HarnessId)
                .Index(x => x.CreatedAt)
                // Only deleted sessions, for purge_deleted_sessions: without it, each run read every session.
                .Index(x => x.DeletedAt!, index => index.Predicate = "data ->> 'deleted_at' is not null");
            marten.Schema.For<SessionPin>().Index(x => x.UserId).Index(x => x.SessionId);
        });
        services.AddSingleton<SessionCache>();
        services.AddSingleton<ISessionDirectory, SessionDirectory>();
        services.AddSingleton<ISessionStats, SessionStats>();
        services.AddSingleton<SessionChanges>();
        services.AddSingleton<NotificationListener>(sp => sp.GetRequiredService<SessionChanges>());
    }
}
