using Everruns.Contracts;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Everruns.Modules.Agents;

public sealed class AgentsModule : IEverrunsModule
{
    public string Name => "agents";

    public void AddServices(IServiceCollection services, IConfiguration configuration)
    {
    }
}
