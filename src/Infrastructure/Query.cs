using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace Everruns.Infrastructure;

/// <summary>Reads query-string values with a clear 400 on malformed input (never a silent default or a 500).</summary>
public static class Query
{
    public static (int? Value, ProblemDetails? Problem) Int(HttpRequest request, string key)
    {
        var raw = request.Query[key].ToString();
        if (string.IsNullOrEmpty(raw)) return (null, null);
        return int.TryParse(raw, out var value)
            ? (value, null)
            : (null, Problems.BadRequest($"invalid_{key}", $"{key} must be a whole number, got '{raw}'"));
    }

    public static (bool? Value, ProblemDetails? Problem) Bool(HttpRequest request, string key)
    {
        var raw = request.Query[key].ToString();
        if (string.IsNullOrEmpty(raw)) return (null, null);
        return bool.TryParse(raw, out var value)
            ? (value, null)
            : (null, Problems.BadRequest($"invalid_{key}", $"{key} must be true or false, got '{raw}'"));
    }

    /// <summary>offset and limit from the query string, validated together.</summary>
    public static (OffsetPaging Paging, ProblemDetails? Problem) Paging(HttpRequest request, int defaultLimit = 20, int maxLimit = 100)
    {
        var (offset, offsetProblem) = Int(request, "offset");
        if (offsetProblem is not null) return (default, offsetProblem);
        var (limit, limitProblem) = Int(request, "limit");
        if (limitProblem is not null) return (default, limitProblem);
        return OffsetPaging.From(offset, limit, defaultLimit, maxLimit);
    }
}
