using Everruns.Contracts;
using Everruns.Infrastructure;
using Marten;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Marten.Schema;

namespace Everruns.Modules.Agents;

public sealed class AgentsModule : IEverrunsModule
{
    public string Name => "agents";

    public void AddServices(IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton<IAgentDirectory, AgentDirectory>();
        services.ConfigureMarten(marten =>
        {
            marten.Schema.For<Agent>()
                // Names are unique per org, whatever the status (an archived name can be revived by upsert).
                .UniqueIndex(UniqueIndexType.Computed, "uq_agent_org_name", x => x.OrgId, x => x.Name)
                .Index(x => x.UpdatedAt);
            // One number per version of an org's agent: two edits at once cannot both record version n (one answers 409).
            // The org is part of it: ids are per org, and another org's agent may have the same id.
            marten.Schema.For<AgentVersion>()
                .UniqueIndex(UniqueIndexType.Computed, "uq_agent_version_number", x => x.OrgId, x => x.AgentId, x => x.VersionNumber);
        });
    }
}
