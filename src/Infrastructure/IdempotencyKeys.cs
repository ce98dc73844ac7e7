using Everruns.Contracts;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Marten;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Everruns.Infrastructure;

/// <summary>Marks a creating endpoint that honours an <c>Idempotency-Key</c> header (see <see cref="IdempotencyKeys"/>).</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class IdempotentAttribute : Attribute;

/// <summary>
/// <c>Idempotency-Key</c> on creating requests (POST of messages, sessions, agents): how a client retries safely after
/// a lost response. A request first claims its key with a pending record (committed at once, holding no connection
/// while the request runs); the response replaces that record in the transaction that does the request's writes, and
/// only over the same version of it, so it exists exactly when they committed and at most one request ever completes
/// under a key. A retry while the key is held, on any instance, gets 409 <c>idempotency_key_in_use</c>; a claim left
/// by a request that died is taken over after <see cref="Hold"/>; the same key with another method, path or body is
/// 422 <c>idempotency_key_mismatch</c>. Written by hand because ASP.NET Core has no idempotency middleware.
/// </summary>
public sealed class IdempotencyKeys(RequestDelegate next)
{
    public const string Header = "Idempotency-Key";
    public const string ReplayedHeader = "Idempotent-Replayed";
    public const int MaxKeyLength = 255;
    public static readonly TimeSpan Retention = TimeSpan.FromHours(24);

    /// <summary>
    /// How long a request holds its key before a retry may take it over (the request then cannot complete under it). A
    /// request takes milliseconds; a claim outlives its request only when the instance died or the database went away
    /// during it (the release failed), and retries wait this long for it then.
    /// </summary>
    public static readonly TimeSpan Hold = TimeSpan.FromSeconds(10);

    public async Task InvokeAsync(HttpContext http, IDocumentStore store)
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

        var org = http.Caller().Org;
        var id = $"{org}/{key}";
        var hash = await HashAsync(http.Request);
        var claim = await ClaimAsync(store, org, id, hash, http.RequestAborted);
        switch (claim)
        {
            case IdempotentResponse { Pending: false } first when first.RequestHash != hash:
                await Refuse(http, Problems.Unprocessable("idempotency_key_mismatch",
                    $"this {Header} was used for a different request (method, path or body) in the last 24 hours"));
                return;
            case IdempotentResponse { Pending: false } first:
                http.Response.StatusCode = first.Status;
                if (first.Location is not null) http.Response.Headers.Location = first.Location;
                http.Response.Headers[ReplayedHeader] = "true";
                http.Response.ContentType = "application/json; charset=utf-8";
                await http.Response.WriteAsync(first.Body, http.RequestAborted);
                return;
            case null:
                http.Response.Headers.RetryAfter = "1";
                await Refuse(http, Problems.Conflict("idempotency_key_in_use",
                    $"a request with this {Header} is still in progress; retry when it has finished"));
                return;
        }

        var pending = new Pending(claim);
        http.Features.Set(pending);
        try
        {
            await next(http);
        }
        finally
        {
            // Not completed (refused, failed): let the key go at once, for the client's retry to run as a new request.
            if (!pending.Completed) await ReleaseAsync(store, org, claim);
        }
    }

    /// <summary>
    /// The earlier response under the key, or this request's own pending record (<see cref="IdempotentResponse.Pending"/>)
    /// once it holds the key, or null while another request holds it.
    /// </summary>
    private static async Task<IdempotentResponse?> ClaimAsync(IDocumentStore store, string org, string id, string hash, CancellationToken ct)
    {
        var now = DateTimeOffset.UtcNow;
        await using var documents = store.LightweightSession(org);
        var existing = await documents.LoadAsync<IdempotentResponse>(id, ct);
        if (existing is { Pending: false } && existing.CreatedAt > now - Retention) return existing;
        if (existing is { Pending: true } && existing.HeldUntil > now) return null;
        var mine = new IdempotentResponse { Id = id, RequestHash = hash, Pending = true, HeldUntil = now + Hold, CreatedAt = now };
        if (existing is null) documents.Insert(mine);
        else
        {
            documents.UpdateExpectedVersion(mine, existing.Version); // an expired response, or a claim left by a request that died
            documents.Store(mine);
        }

        try
        {
            await documents.SaveChangesAsync(ct);
            return mine;
        }
        catch (Exception e) when (IsLostRace(e))
        {
            return null;
        }
    }

    private static async Task ReleaseAsync(IDocumentStore store, string org, IdempotentResponse claim)
    {
        try
        {
            await using var documents = store.LightweightSession(org);
            documents.UpdateExpectedVersion(claim, claim.Version);
            documents.Delete(claim);
            await documents.SaveChangesAsync();
        }
        catch (Exception e) when (IsLostRace(e) || TransientDatabaseErrors.IsTransient(e))
        {
            // taken over meanwhile, or the database is away: the claim then expires by itself
        }
    }

    private static bool IsLostRace(Exception e) =>
        e is JasperFx.ConcurrencyException or JasperFx.DocumentAlreadyExistsException
        || e.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation };

    /// <summary>
    /// Stores the response of a request that carries a key, in <paramref name="documents"/>' transaction (the one doing
    /// the request's writes), over the request's own claim. Does nothing without a key.
    /// </summary>
    public static void Record(HttpContext http, IDocumentSession documents, int status, string? location, object body)
    {
        if (ResponseFor(http, status, location, body) is { } response) Save(documents, response);
    }

    /// <summary>Stores <paramref name="response"/> (from <see cref="ResponseFor"/>) over the claim it was made for.</summary>
    public static void Save(IDocumentSession documents, IdempotentResponse response)
    {
        documents.UpdateExpectedVersion(response, response.Version);
        documents.Store(response);
    }

    /// <summary>
    /// The response to store, for a request whose writes another handler's transaction does (then <see cref="Save"/>
    /// it there); null without a key. The request counts as completed from here: a failure to commit fails the request.
    /// </summary>
    public static IdempotentResponse? ResponseFor(HttpContext http, int status, string? location, object body)
    {
        if (http.Features.Get<Pending>() is not { } pending) return null;
        pending.Completed = true;
        var json = http.RequestServices.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions;
        return new IdempotentResponse
        {
            Id = pending.Claim.Id,
            RequestHash = pending.Claim.RequestHash,
            Status = status,
            Location = location,
            Body = JsonSerializer.Serialize(body, body.GetType(), json),
            CreatedAt = DateTimeOffset.UtcNow,
            Version = pending.Claim.Version,
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

    private sealed class Pending(IdempotentResponse claim)
    {
        public IdempotentResponse Claim { get; } = claim;
        public bool Completed { get; set; }
    }
}
