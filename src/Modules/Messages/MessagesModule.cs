using Everruns.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Everruns.Modules.Messages;

/// <summary>User messages in, the conversation out. Messages are events of the session's stream; nothing else is stored.</summary>
public sealed class MessagesModule : IEverrunsModule
{
    public string Name => "messages";

    public void AddServices(IServiceCollection services, IConfiguration configuration)
    {
    }
}
