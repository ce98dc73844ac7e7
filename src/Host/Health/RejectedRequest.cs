using Everruns.Infrastructure;
using Microsoft.AspNetCore.Diagnostics;

namespace Everruns.Host.Health;

/// <summary>
/// Kestrel's own refusals while a body is read (over MAX_REQUEST_BODY_BYTES when sent chunked, a malformed body):
/// the status Kestrel chose as problem details (413 <c>payload_too_large</c>, 400 <c>bad_request</c>), never 500.
/// </summary>
public sealed class RejectedRequest : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken ct)
    {
        var rejected = exception as BadHttpRequestException ?? exception.InnerException as BadHttpRequestException;
        if (rejected is null || context.Response.HasStarted) return false;
        var problem = rejected.StatusCode == StatusCodes.Status413PayloadTooLarge
            ? Problems.Create(StatusCodes.Status413PayloadTooLarge, "payload_too_large", rejected.Message)
            : Problems.Create(rejected.StatusCode, "bad_request", rejected.Message);
        await Problems.Result(problem).ExecuteAsync(context);
        return true;
    }
}
