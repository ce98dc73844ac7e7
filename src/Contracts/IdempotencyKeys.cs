using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Marten;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Everruns.Contracts;

/// <summary>Marks a creating endpoint that honours an <c>Idempotency-Key</c> header (see <see cref="IdempotencyKeys"/>).</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class IdempotentAttribute : Attribute;

/// <summary>
/// A creating request's first response, stored in the transaction that did its writes: a retry with the same key
/// (within <see cref="IdempotencyKeys.Retention"/>, in the same org) gets it back and writes nothing.
/// </summary>
public sealed class IdempotentResponse
{
    /// <summary>org id / key.</summary>
    public string Id { get; set; } = "";
    public string RequestHash { get; set; } = "";
    public int Status { get; set; }
    public string? Location { get; set; }
    public string Body { get; set; } = "";
    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>
/// <c>Idempotency-Key</c> on creating requests (POST of messages, sessions, agents): how a client retries safely after
/// a lost response. The key is held for the request's duration by a transaction-scoped advisory lock, so a retry that
/// reaches any instance while the first is still running gets 409 <c>idempotency_key_in_use</c>; the first response is
/// stored with the request's own writes (<see cref="Record"/>), so it exists exactly when they committed; the same key
/// with another method, path or body is 422 <c>idempotency_key_mismatch</c>. Written by hand because ASP.NET Core has no
/// idempotency middleware.
/// </summary>
public sealed class IdempotencyKeys(RequestDelegate next)
{
    public const string Header = "Idempotency-Key";
    public const string ReplayedHeader = "Idempotent-Replayed";
    public const int MaxKeyLength = 255;
    public static readonly TimeSpan Retention = TimeSpan.FromHours(24);

    public async Task InvokeAsync(HttpContext http, NpgsqlDataSource dataSource, IDocumentStore store)
    {
        if (!http.Request.Headers.TryGetValue(Header, out var values) || !HttpMethods.IsPost(http.Request.Method))
        {
            await next(http); // other methods are idempotent by their nature
            return;
        }

        var key = values.ToString();
        if (http.GetEndpoint()?.Metadata.GetMetadata<IdempotentAttribute>() is null)
        {
            await Refuse(http, Problems.BadRequest("idempotency_key_not_supported",
                $"{Header} is honoured on creating requests (messages, sessions, agents); this route does not take it"));
            return;
        }

        if (key.Length is 0 or > MaxKeyLength || key.Any(c => c is < '!' or > '~'))
        {
            await Refuse(http, Problems.BadRequest("invalid_idempotency_key",
                $"{Header} must be 1 to {MaxKeyLength} printable ASCII characters without spaces"));
            return;
        }

        var id = $"{http.Caller().Org}/{key}";
        var hash = await HashAsync(http.Request);
        await using var connection = await dataSource.OpenConnectionAsync(http.RequestAborted);
        await using var hold = await connection.BeginTransactionAsync(http.RequestAborted);
        await using (var lockKey = new NpgsqlCommand("select pg_try_advisory_xact_lock(hashtextextended(@id, 7))", connection, hold))
        {
            lockKey.Parameters.AddWithValue("id", id);
            if (!(bool)(await lockKey.ExecuteScalarAsync(http.RequestAborted))!)
            {
                http.Response.Headers.RetryAfter = "1";
                await Refuse(http, Problems.Conflict("idempotency_key_in_use",
                    $"a request with this {Header} is still in progress; retry when it has finished"));
                return;
            }
        }

        await using (var query = store.QuerySession())
        {
            if (await query.LoadAsync<IdempotentResponse>(id, http.RequestAborted) is { } first
                && first.CreatedAt > DateTimeOffset.UtcNow - Retention)
            {
                if (first.RequestHash != hash)
                {
                    await Refuse(http, Problems.Unprocessable("idempotency_key_mismatch",
                        $"this {Header} was used for a different request (method, path or body) in the last 24 hours"));
                    return;
                }

                http.Response.StatusCode = first.Status;
                if (first.Location is not null) http.Response.Headers.Location = first.Location;
                http.Response.Headers[ReplayedHeader] = "true";
                http.Response.ContentType = "application/json; charset=utf-8";
                await http.Response.WriteAsync(first.Body, http.RequestAborted);
                return;
            }
        }

        http.Features.Set(new Pending(id, hash));
        await next(http);
        // The lock ends with the transaction, whatever happened (a broken connection ends both).
    }

    /// <summary>
    /// Stores the response of a request that carries a key, in <paramref name="documents"/>' transaction (the one doing
    /// the request's writes). Does nothing without a key.
    /// </summary>
    public static void Record(HttpContext http, IDocumentSession documents, int status, string? location, object body)
    {
        if (ResponseFor(http, status, location, body) is { } response) documents.Store(response);
    }

    /// <summary>The response to store, for a request whose writes another handler's transaction does; null without a key.</summary>
    public static IdempotentResponse? ResponseFor(HttpContext http, int status, string? location, object body)
    {
        if (http.Features.Get<Pending>() is not { } pending) return null;
        var json = http.RequestServices.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions;
        return new IdempotentResponse
        {
            Id = pending.Id,
            RequestHash = pending.Hash,
            Status = status,
            Location = location,
            Body = JsonSerializer.Serialize(body, body.GetType(), json),
            CreatedAt = DateTimeOffset.UtcNow,
        };
    }

    private static async Task<string> HashAsync(HttpRequest request)
    {
        request.EnableBuffering();
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(Encoding.UTF8.GetBytes($"{request.Method} {request.Path}\n"));
        var buffer = new byte[8192];
        int read;
        while ((read = await request.Body.ReadAsync(buffer, request.HttpContext.RequestAborted)) > 0) sha.AppendData(buffer, 0, read);
        request.Body.Position = 0;
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    private static Task Refuse(HttpContext http, Microsoft.AspNetCore.Mvc.ProblemDetails problem) =>
        Problems.Result(problem).ExecuteAsync(http);

    private sealed record Pending(string Id, string Hash);
}
