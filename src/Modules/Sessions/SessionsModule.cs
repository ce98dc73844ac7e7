using Everruns.Contracts;
using Marten;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Everruns.Modules.Sessions;

public sealed class SessionsModule : IEverrunsModule
{
    public string Name => "sessions";

    public void AddServices(IServiceCollection services, IConfiguration configuration) =>
        services.ConfigureMarten(marten =>
        {
            marten.Schema.For<Session>()
                .Index(x => x.OrgId)
                .Index(x => x.AgentId)
                .Index(x => x.CreatedAt);
        });
}
