using System.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Everruns.Infrastructure;

/// <summary>
/// A business capability plugged into the host. The host registers each module's services and includes
/// its assembly in Wolverine handler/endpoint discovery; a module configures its own Marten mappings, and declares its
/// other schema objects (tables, functions, triggers) to Marten (<c>Storage.ExtendedSchemaObjects</c>), through
/// <c>services.ConfigureMarten(...)</c> inside <see cref="AddServices"/>.
/// </summary>
public interface IEverrunsModule
{
    string Name { get; }

    Assembly Assembly => GetType().Assembly;

    void AddServices(IServiceCollection services, IConfiguration configuration);

    /// <summary>Wolverine settings of this module's messages (local queue parallelism, for one).</summary>
    void ConfigureWolverine(Wolverine.WolverineOptions wolverine, IConfiguration configuration)
    {
    }

    /// <summary>Request middleware every route passes through (after draining, before the endpoint): authentication, limits.</summary>
    void UsePipeline(IApplicationBuilder app)
    {
    }

    /// <summary>Endpoints that are not Wolverine HTTP endpoints (long-lived streams such as SSE).</summary>
    void MapEndpoints(IEndpointRouteBuilder endpoints)
    {
    }
}
