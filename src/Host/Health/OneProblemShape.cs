using System.Text.RegularExpressions;
using Everruns.Infrastructure;

namespace Everruns.Host.Health;

/// <summary>
/// Every problem this server answers has the one documented shape, with a stable <c>code</c>. Problems written by the
/// frameworks (Wolverine.Http's body reader, ASP.NET Core's status pages for an unmatched route or method) come through
/// <see cref="Microsoft.AspNetCore.Http.IProblemDetailsService"/> without a code: they get one here, and a detail that
/// names no .NET type (a malformed body says where in the JSON it failed instead).
/// </summary>
public static partial class OneProblemShape
{
    public static void Apply(ProblemDetailsContext context)
    {
        var problem = context.ProblemDetails;
        if (problem.Extensions.ContainsKey("code")) return; // ours already
        var status = problem.Status ?? context.HttpContext.Response.StatusCode;
        var isJson = problem.Extensions.ContainsKey("lineNumber") || problem.Title == "Invalid JSON format";
        var unknownField = isJson && UnknownFieldPattern().Match(problem.Detail ?? "") is { Success: true } field ? field.Groups[1].Value : null;
        var (code, detail) = status switch
        {
            400 when unknownField is not null =>
                ("unknown_field", $"'{unknownField}' is not a field this server accepts on {context.HttpContext.Request.Method} {context.HttpContext.Request.Path}"),
            400 when isJson => ("invalid_json", InvalidJson(problem.Detail)),
            400 => ("bad_request", "the request could not be read"),
            404 => ("route_not_found", $"no route {context.HttpContext.Request.Method} {context.HttpContext.Request.Path}"),
            405 => ("method_not_allowed", $"{context.HttpContext.Request.Method} is not allowed on {context.HttpContext.Request.Path}"),
            406 => ("not_acceptable", "this route answers application/json"),
            413 => ("payload_too_large", "the request body is too large"),
            415 => ("unsupported_media_type", "the request body must be application/json"),
            >= 500 => ("internal_error", "the server failed to handle the request; it is logged"),
            _ => ("error", problem.Title ?? "the request failed"),
        };

        foreach (var key in problem.Extensions.Keys.ToList()) problem.Extensions.Remove(key);
        var path = JsonPath(problem.Detail);
        if (unknownField is not null)
        {
            // The reader names the object holding the field (or the field itself): the path names the field.
            var holder = path is null or "$" ? "$" : path;
            path = holder.EndsWith("." + unknownField, StringComparison.Ordinal) ? holder : $"{holder}.{unknownField}";
        }

        if (code is "invalid_json" or "unknown_field" && path is not null) problem.Extensions["path"] = path;
        var shaped = Problems.Create(status, code, detail);
        problem.Type = shaped.Type;
        problem.Title = shaped.Title;
        problem.Detail = shaped.Detail;
        problem.Status = status;
        problem.Instance = null;
        problem.Extensions["code"] = code;
    }

    private static string InvalidJson(string? frameworkDetail) => JsonPath(frameworkDetail) is { } path && path != "$"
        ? $"the request body is not valid for this route at {path}: a value of the wrong type, or malformed JSON"
        : "the request body is not valid JSON for this route (a JSON object is expected)";

    /// <summary>The JSON path System.Text.Json names in its message ("... Path: $.name | LineNumber: 0 ...").</summary>
    private static string? JsonPath(string? detail) =>
        detail is not null && PathPattern().Match(detail) is { Success: true } match ? match.Groups[1].Value : null;

    [GeneratedRegex(@"Path: (\$[^ |]*)")]
    private static partial Regex PathPattern();

    /// <summary>System.Text.Json's refusal of a member the request type does not have.</summary>
    [GeneratedRegex(@"The JSON property '([^']*)' could not be mapped")]
    private static partial Regex UnknownFieldPattern();
}
