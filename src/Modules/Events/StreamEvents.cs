using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Everruns.Contracts;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Hosting;
using Wolverine;

namespace Everruns.Modules.Events;

/// <summary>
/// GET /v1/sessions/{id}/sse — Server-Sent Events per the Everruns SSE spec: a <c>connected</c> event, then
/// the history after <c>since_id</c> (or the <c>Last-Event-ID</c> header), then live events as they are
/// committed on any instance. <c>types</c>/<c>exclude</c> filter. A <c>: heartbeat</c> comment keeps idle
/// streams alive; after the connection-cycle interval, or when the server shuts down, a <c>disconnecting</c>
/// event tells the client to reconnect with the last event id it saw.
/// </summary>
public static class StreamEventsEndpoint
{
    private const int BatchSize = 500;


    public static void Map(IEndpointRouteBuilder endpoints) =>
        endpoints.MapGet("/v1/sessions/{id}/sse", Stream);

    public static async Task Stream(string id, HttpContext http, IMessageBus bus, SessionEventReader reader,
        SharedEventReads shared, ISessionSignals signals, SseOptions options, SseLimits limits, IHostApplicationLifetime lifetime)
    {
        var ct = http.RequestAborted;
        if (await InputRules.ExistingSession(bus, http.Caller().Org, id) is { } missing)
        {
            await Problems.Result(missing).ExecuteAsync(http);
            return;
        }

        var (filter, filterProblem) = EventQuery.Filter(http.Request);
        if (filterProblem is not null)
        {
            await Problems.Result(filterProblem).ExecuteAsync(http);
            return;
        }

        var sinceId = http.Request.Query["since_id"].ToString();
        if (string.IsNullOrEmpty(sinceId)) sinceId = http.Request.Headers["Last-Event-ID"].ToString();
        var (since, sinceProblem) = await EventQuery.Since(reader, id, sinceId, ct);
        if (sinceProblem is not null)
        {
            await Problems.Result(sinceProblem).ExecuteAsync(http);
            return;
        }

        var (lease, overCap) = limits.TryOpen(http.Caller().Org, id);
        if (overCap is not null)
        {
            http.Response.Headers.RetryAfter = "5";
            await Problems.Result(overCap).ExecuteAsync(http);
            return;
        }

        using var _ = lease;
        // Subscribe before the first read, so that an event committed in between still wakes us. A stream filtered by
        // type is not woken (and reads nothing) for the events it would not send.
        using var subscription = signals.Subscribe(id, filter.WantsType);
        var response = http.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        await Write(response, "retry: 100\nevent: connected\ndata: " +
                              JsonSerializer.Serialize(new { session_id = id }) + "\n\n", ct);

        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(ct, lifetime.ApplicationStopping);
        var cycleAt = DateTime.UtcNow + options.ConnectionCycle;
        var after = since ?? 0;
        try
        {
            while (!stopping.IsCancellationRequested)
            {
                var slice = await shared.ReadForwardAsync(id, after, BatchSize, filter).WaitAsync(ct);
                if (slice.Events.Count > 0)
                {
                    await response.BodyWriter.WriteAsync(slice.Frames, ct); // writes and flushes
                }

                after = slice.Head;
                if (slice.Events.Count == BatchSize) continue;

                var remaining = cycleAt - DateTime.UtcNow;
                if (remaining <= TimeSpan.Zero)
                {
                    await Disconnecting(response, "connection_cycle", ct);
                    return;
                }

                var wait = remaining < options.Heartbeat ? remaining : options.Heartbeat;
                if (!await subscription.WaitAsync(wait, stopping.Token) && DateTime.UtcNow < cycleAt)
                    await Write(response, ": heartbeat\n\n", ct);
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested && lifetime.ApplicationStopping.IsCancellationRequested)
        {
            // shutting down: fall through to tell the client
        }
        catch (OperationCanceledException)
        {
            return; // the client left
        }

        if (!ct.IsCancellationRequested)
            await Disconnecting(response, "server_maintenance", CancellationToken.None);
    }

    private static Task Disconnecting(HttpResponse response, string reason, CancellationToken ct) =>
        Write(response, "event: disconnecting\ndata: " +
                        new JsonObject { ["reason"] = reason, ["retry_ms"] = 100 }.ToJsonString() + "\n\n", ct);

    private static async Task Write(HttpResponse response, string text, CancellationToken ct)
    {
        await response.WriteAsync(text, ct);
        await response.Body.FlushAsync(ct);
    }
}
