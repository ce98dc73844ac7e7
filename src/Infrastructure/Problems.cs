using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace Everruns.Infrastructure;

/// <summary>
/// RFC 9457 problem details in the shape of the Everruns ErrorResponse: title, status, detail and a stable
/// snake_case <c>code</c> a client can switch on.
/// </summary>
public static class Problems
{
    public static ProblemDetails Create(int status, string code, string detail, string? title = null)
    {
        var problem = new ProblemDetails
        {
            Status = status,
            Title = title ?? DefaultTitle(status),
            Detail = detail,
            Type = $"https://httpstatuses.io/{status}",
        };
        problem.Extensions["code"] = code;
        return problem;
    }

    public static ProblemDetails BadRequest(string code, string detail) => Create(StatusCodes.Status400BadRequest, code, detail);
    public static ProblemDetails Forbidden(string detail) => Create(StatusCodes.Status403Forbidden, "forbidden", detail);
    public static ProblemDetails NotFound(string code, string detail) => Create(StatusCodes.Status404NotFound, code, detail);
    public static ProblemDetails Conflict(string code, string detail) => Create(StatusCodes.Status409Conflict, code, detail);
    public static ProblemDetails Unprocessable(string code, string detail) => Create(StatusCodes.Status422UnprocessableEntity, code, detail);

    public static IResult Result(ProblemDetails problem) =>
        Results.Problem(problem);

    private static string DefaultTitle(int status) => status switch
    {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        413 => "Payload Too Large",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        503 => "Service Unavailable",
        _ => "Error",
    };
}
