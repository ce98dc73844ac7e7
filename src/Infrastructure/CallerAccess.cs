using Everruns.Contracts;
using Microsoft.AspNetCore.Http;

namespace Everruns.Infrastructure;

public static class CallerExtensions
{
    /// <summary>The claim naming the org a request acts in: Marten's tenant for the request's documents.</summary>
    public const string OrgClaim = "org";

    /// <summary>The authenticated caller of this request (every route except /health, /status, /conformance and /metrics has one).</summary>
    public static Caller Caller(this HttpContext http) =>
        http.Features.Get<Caller>() ?? throw new InvalidOperationException("the request was not authenticated");

    public static Caller Caller(this HttpRequest request) => request.HttpContext.Caller();
}
