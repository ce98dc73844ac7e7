using Wolverine.Configuration;
using Wolverine.Runtime;
using Wolverine.Transports.Local;

namespace Everruns.Infrastructure;

/// <summary>
/// How many messages one named local queue handles at once on an instance. Added after the host's policy for all
/// local queues (HANDLER_PARALLELISM), so it wins for its queue.
/// </summary>
public sealed class LocalQueueParallelism(string queueName, int parallelism) : IEndpointPolicy
{
    public void Apply(Endpoint endpoint, IWolverineRuntime runtime)
    {
        if (endpoint is LocalQueue && endpoint.EndpointName == queueName)
            endpoint.MaxDegreeOfParallelism = parallelism;
    }
}
