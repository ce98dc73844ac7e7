using Everruns.Contracts;
using Everruns.Infrastructure;
using Marten;
using Marten.Schema;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Everruns.Modules.Harnesses;

/// <summary>User-defined harnesses: what agents on them inherit (system prompt, capabilities, initial files, default model).</summary>
public sealed class HarnessesModule : IEverrunsModule
{
    public string Name => "harnesses";

    public void AddServices(IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton<IHarnessDirectory, HarnessDirectory>();
        services.ConfigureMarten(marten =>
        {
            marten.Schema.For<Harness>()
                // Unique per org, whatever the status: two creates, copies or imports of one name at once leave one (409).
                .UniqueIndex(UniqueIndexType.Computed, "uq_harness_org_name", x => x.OrgId, x => x.Name);
        });
    }
}
