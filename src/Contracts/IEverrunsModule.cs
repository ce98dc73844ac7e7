using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Everruns.Contracts;

/// <summary>
/// A business capability plugged into the host. The host registers each module's services and includes
/// its assembly in Wolverine handler/endpoint discovery; a module configures its own Marten mappings
/// through <c>services.ConfigureMarten(...)</c> inside <see cref="AddServices"/>.
/// </summary>
public interface IEverrunsModule
{
    string Name { get; }

    Assembly Assembly => GetType().Assembly;

    void AddServices(IServiceCollection services, IConfiguration configuration);
}
