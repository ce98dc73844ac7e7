using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Extensions;

namespace Everruns.Infrastructure;

/// <summary>A whole list, unpaged, as the API answers its small collections: <c>{"data":[...]}</c>.</summary>
public sealed record DataList<T>(IReadOnlyList<T> Data);

/// <summary>The SDK's list envelope: data, total, offset, limit, and next/prev page URLs when there are such pages.</summary>
public sealed record Page<T>(IReadOnlyList<T> Data, int Total, int Offset, int Limit, string? NextUrl, string? PrevUrl)
{
    /// <summary>The page again under another key: the TypeScript SDK reads <c>agents</c>, <c>sessions</c>... instead of <c>data</c>.</summary>
    [System.Text.Json.Serialization.JsonExtensionData]
    public Dictionary<string, object>? Aliases { get; init; }

    public Page<T> AlsoAs(string key) => this with { Aliases = new() { [key] = Data } };

    public static Page<T> Of(IReadOnlyList<T> data, int total, OffsetPaging paging, HttpRequest request)
    {
        string? Link(int offset)
        {
            var query = QueryString.Create(request.Query
                .Where(q => q.Key is not ("offset" or "limit"))
                .SelectMany(q => q.Value.Select(v => new KeyValuePair<string, string?>(q.Key, v)))
                .Append(new("offset", offset.ToString()))
                .Append(new("limit", paging.Limit.ToString())));
            return UriHelper.BuildAbsolute(request.Scheme, request.Host, request.PathBase, request.Path, query);
        }

        return new Page<T>(data, total, paging.Offset, paging.Limit,
            paging.Offset + paging.Limit < total ? Link(paging.Offset + paging.Limit) : null,
            paging.Offset > 0 ? Link(Math.Max(0, paging.Offset - paging.Limit)) : null);
    }
}

/// <summary>offset (default 0, ≥ 0) and limit (default 20, 1..100 unless a list says otherwise), validated.</summary>
public readonly record struct OffsetPaging(int Offset, int Limit)
{
    public static (OffsetPaging Paging, Microsoft.AspNetCore.Mvc.ProblemDetails? Problem) From(int? offset, int? limit,
        int defaultLimit = 20, int maxLimit = 100)
    {
        if (offset is < 0)
            return (default, Problems.BadRequest("invalid_offset", "offset must be 0 or more"));
        if (limit < 1 || limit > maxLimit)
            return (default, Problems.BadRequest("invalid_limit", $"limit must be from 1 to {maxLimit}"));
        return (new OffsetPaging(offset ?? 0, limit ?? defaultLimit), null);
    }
}
