using System.Text.Json;
using System.Text.Json.Nodes;
using Everruns.Contracts;
using Everruns.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Hosting;

namespace Everruns.Modules.Events;

/// <summary>
/// GET /v1/sessions/{id}/sse — Server-Sent Events per the Everruns SSE spec: a <c>connected</c> event, then
/// the history after <c>since_id</c> (or the <c>Last-Event-ID</c> header), then live events as they are
/// committed on any instance. <c>types</c>/<c>exclude</c> filter. A <c>: heartbeat</c> comment keeps idle
/// streams alive; after the connection-cycle interval, or when the server shuts down, a <c>disconnecting</c>
/// event tells the client to reconnect with the last event id it saw.
/// <para>
/// Retry hints (the SSE <c>retry:</c> field, how long a browser waits before reconnecting a dropped stream): 100 ms
/// on <c>connected</c>, on every event and on <c>disconnecting</c>; while the stream is idle, each heartbeat doubles
/// the hint up to <see cref="IdleRetryMaxMs"/>, and the next event brings it back to 100 ms. Each connection's cycle
/// is drawn between 90% and 100% of <c>SSE_CONNECTION_CYCLE_SECS</c>, so that the streams a deploy or an outage
/// opened together do not all reconnect in the same second afterwards.
/// </para>
/// </summary>
public static class StreamEventsEndpoint
{
    /// <summary>The retry hint of an active stream, and after <c>connected</c>/<c>disconnecting</c>.</summary>
    public const int ActiveRetryMs = 100;

    /// <summary>The longest retry hint, reached after a few idle heartbeats.</summary>
    public const int IdleRetryMaxMs = 500;

    public static void Map(IEndpointRouteBuilder endpoints) =>
        endpoints.MapGet("/v1/sessions/{id}/sse", Stream)
            .Produces<EventResponse>(StatusCodes.Status200OK, "text/event-stream")
            .WithDescription("Server-Sent Events: `connected`, the history after `since_id` (or `Last-Event-ID`), then live events; " +
                             "each frame is `retry:`/`event: <type>`/`id: <event id>`/`data: <Event JSON>`. `types`/`exclude` filter; " +
                             "`: heartbeat` comments keep an idle stream open; `disconnecting` precedes a planned close.");

    public static async Task Stream(string id, HttpContext http, ISessionDirectory sessions, SessionEventReader reader,
        SharedEventReads shared, SessionFanOut fanOut, SseOptions options, SseLimits limits, IHostApplicationLifetime lifetime)
    {
        var ct = http.RequestAborted;
        if (await InputRules.ExistingSession(sessions, http.Caller().Org, id) is { } missing)
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
        var response = http.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        await Write(response, $"retry: {ActiveRetryMs}\nevent: connected\ndata: {{\"status\":\"connected\"}}\n\n", ct);

        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(ct, lifetime.ApplicationStopping);
        var cycleAt = DateTime.UtcNow + options.ConnectionCycle * (0.9 + 0.1 * Random.Shared.NextDouble());
        var idleRetry = ActiveRetryMs;
        var seenAt = -1L;
        var live = new SessionFanOut.LiveStream(id, filter, response.BodyWriter);
        var after = since ?? 0;
        try
        {
            while (true)
            {
                // Catch up by itself: the history after connecting, or what came while the session's loop had let go
                // of this stream (its client did not keep up)...
                EventSlice slice;
                do
                {
                    slice = await shared.ReadForwardAsync(id, after, SessionFanOut.BatchSize, filter).WaitAsync(stopping.Token);
                    if (slice.Events.Count > 0) await response.BodyWriter.WriteAsync(slice.Frames, stopping.Token); // writes and flushes
                    after = slice.Head;
                } while (slice.Events.Count == SessionFanOut.BatchSize);

                // ...then the session's loop writes the live events, while this task sends the heartbeats of an idle
                // stream and ends it when its cycle is over or the server stops.
                fanOut.Attach(live, after);
                while (true)
                {
                    var remaining = cycleAt - DateTime.UtcNow;
                    if (remaining < TimeSpan.FromMilliseconds(1)) // (a shorter delay would not wait at all)
                    {
                        live.Detach();
                        await Disconnecting(response, "connection_cycle", ct);
                        return;
                    }

                    // A heartbeat after a whole interval of it; the rest of the cycle, when shorter, ends it without one.
                    var beat = remaining >= options.Heartbeat;
                    var letGo = live.LetGo;
                    if (await Task.WhenAny(letGo, Task.Delay(beat ? options.Heartbeat : remaining, stopping.Token)) != letGo)
                    {
                        stopping.Token.ThrowIfCancellationRequested();
                        if (!beat) continue;
                        // Idle since the last heartbeat: the hint backs off; events in between brought it back.
                        idleRetry = live.After == seenAt ? Math.Min(idleRetry * 2, IdleRetryMaxMs) : 2 * ActiveRetryMs;
                        seenAt = live.After;
                        if (live.TryWrite(Heartbeat(idleRetry))) continue;
                    }

                    // Let go: finish the write in progress (or surface the failure), then catch up from where it stopped.
                    if (await letGo is { } pending) await pending.WaitAsync(stopping.Token);
                    after = live.After;
                    break;
                }
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
        finally
        {
            live.Detach();
        }

        if (!ct.IsCancellationRequested)
            await Disconnecting(response, "server_maintenance", CancellationToken.None);
    }

    private static byte[] Heartbeat(int retryMs) => System.Text.Encoding.UTF8.GetBytes($"retry: {retryMs}\n: heartbeat\n\n");

    private static Task Disconnecting(HttpResponse response, string reason, CancellationToken ct) =>
        Write(response, $"retry: {ActiveRetryMs}\nevent: disconnecting\ndata: " +
                        new JsonObject { ["reason"] = reason, ["retry_ms"] = ActiveRetryMs }.ToJsonString() + "\n\n", ct);

    private static async Task Write(HttpResponse response, string text, CancellationToken ct)
    {
        await response.WriteAsync(text, ct);
        await response.Body.FlushAsync(ct);
    }
}
