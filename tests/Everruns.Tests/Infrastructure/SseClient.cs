using System.Text.Json.Nodes;
using System.Threading.Channels;

namespace Everruns.Tests.Infrastructure;

/// <summary>One frame of a Server-Sent Events stream.</summary>
public sealed record SseEvent(string Event, string? Id, string Data, int? Retry)
{
    public JsonObject Json => JsonNode.Parse(Data)!.AsObject();
    public long Sequence => Json["sequence"]!.GetValue<long>();
}

/// <summary>A real SSE connection read frame by frame, as the SDKs parse it (comments skipped, fields per spec).</summary>
public sealed class SseClient : IAsyncDisposable
{
    private readonly HttpResponseMessage _response;
    private readonly CancellationTokenSource _stop = new();
    private readonly Channel<SseEvent> _frames = Channel.CreateUnbounded<SseEvent>();
    private readonly Task _reader;

    public int Comments { get; private set; }

    /// <summary>Every <c>retry:</c> hint in arrival order, with what carried it: an event's type, or <c>: comment</c>.</summary>
    public List<(string Carrier, int RetryMs)> RetryHints { get; } = [];

    private SseClient(HttpResponseMessage response)
    {
        _response = response;
        _reader = Task.Run(ReadAsync);
    }

    public HttpResponseMessage Response => _response;

    public static async Task<SseClient> OpenAsync(HttpClient http, string url, string? lastEventId = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, url) { Version = http.DefaultRequestVersion, VersionPolicy = http.DefaultVersionPolicy };
        request.Headers.Accept.ParseAdd("text/event-stream");
        if (lastEventId is not null) request.Headers.Add("Last-Event-ID", lastEventId);
        var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        return new SseClient(response);
    }

    /// <summary>Starts reading a response that was opened and left unread.</summary>
    public static SseClient Of(HttpResponseMessage response) => new(response);

    /// <summary>The next frame, or a TimeoutException.</summary>
    public async Task<SseEvent> NextAsync(TimeSpan? within = null)
    {
        using var timeout = new CancellationTokenSource(within ?? TimeSpan.FromSeconds(20));
        try
        {
            return await _frames.Reader.ReadAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException("no SSE frame arrived in time");
        }
        catch (ChannelClosedException)
        {
            throw new EndOfStreamException("the SSE stream ended");
        }
    }

    /// <summary>Frames up to and including the first that matches <paramref name="last"/>.</summary>
    public async Task<List<SseEvent>> UntilAsync(Func<SseEvent, bool> last, TimeSpan? within = null)
    {
        var deadline = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(30));
        var frames = new List<SseEvent>();
        while (true)
        {
            var remaining = deadline - DateTime.UtcNow;
            if (remaining <= TimeSpan.Zero)
                throw new TimeoutException($"stream ended without the expected frame; got: {string.Join(", ", frames.Select(f => f.Event))}");
            SseEvent frame;
            try
            {
                frame = await NextAsync(remaining);
            }
            catch (TimeoutException)
            {
                throw new TimeoutException($"no matching frame in time; got: {string.Join(", ", frames.Select(f => f.Event))}");
            }

            frames.Add(frame);
            if (last(frame)) return frames;
        }
    }

    /// <summary>Whether the server closed the stream (after a disconnecting frame, say).</summary>
    public async Task<bool> EndsWithinAsync(TimeSpan within) =>
        await Task.WhenAny(_reader, Task.Delay(within)) == _reader;

    private async Task ReadAsync()
    {
        try
        {
            await using var body = await _response.Content.ReadAsStreamAsync(_stop.Token);
            using var reader = new StreamReader(body);
            string? type = null, id = null;
            int? retry = null;
            var comment = false;
            var data = new List<string>();
            while (await reader.ReadLineAsync(_stop.Token) is { } line)
            {
                if (line.Length == 0)
                {
                    if (retry is { } hint)
                        lock (RetryHints) RetryHints.Add((data.Count > 0 || type is not null ? type ?? "message" : comment ? ": comment" : "", hint));
                    comment = false;
                    if (data.Count > 0 || type is not null)
                        await _frames.Writer.WriteAsync(new SseEvent(type ?? "message", id, string.Join("\n", data), retry));
                    // Id is the frame's own id line (a browser would carry the last one forward).
                    type = null;
                    id = null;
                    data.Clear();
                    retry = null;
                    continue;
                }

                if (line.StartsWith(':'))
                {
                    comment = true;
                    Comments++;
                    continue;
                }

                var colon = line.IndexOf(':');
                var field = colon < 0 ? line : line[..colon];
                var value = colon < 0 ? "" : line[(colon + 1)..].TrimStart(' ');
                switch (field)
                {
                    case "event": type = value; break;
                    case "id": id = value; break;
                    case "data": data.Add(value); break;
                    case "retry": retry = int.Parse(value); break;
                }
            }
        }
        catch (Exception) when (_stop.IsCancellationRequested)
        {
        }
        catch (IOException)
        {
        }
        catch (HttpRequestException)
        {
        }
        finally
        {
            _frames.Writer.TryComplete();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _response.Dispose();
        try
        {
            await _reader;
        }
        catch
        {
            // the reader only ever ends
        }

        _stop.Dispose();
    }
}
