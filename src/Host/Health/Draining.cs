using Everruns.Contracts;
using Everruns.Infrastructure;

namespace Everruns.Host.Health;

/// <summary>
/// Every response names the instance that served it (<c>X-Everruns-Instance</c>). From the moment shutdown begins, new requests get 503 <c>shutting_down</c> (with Retry-After and
/// Connection: close) so the load balancer and clients move to another instance; health endpoints still answer.
/// </summary>
public sealed class Draining(RequestDelegate next, IHostApplicationLifetime lifetime, InstanceIdentity identity)
{
    public async Task InvokeAsync(HttpContext context)
    {
        // Which instance answered, for operators behind a load balancer.
        context.Response.Headers["X-Everruns-Instance"] = identity.InstanceId;
        if (lifetime.ApplicationStopping.IsCancellationRequested && !context.Request.Path.StartsWithSegments("/health"))
        {
            context.Response.Headers.RetryAfter = "1";
            context.Response.Headers.Connection = "close";
            await Problems.Result(Problems.Create(StatusCodes.Status503ServiceUnavailable, "shutting_down",
                "this instance is shutting down; retry on another")).ExecuteAsync(context);
            return;
        }

        await next(context);
    }
}
