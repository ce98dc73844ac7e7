using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Everruns.Infrastructure;
using Microsoft.Extensions.Configuration;

namespace Everruns.Modules.Execution;

/// <summary>
/// WEB_FETCH_ALLOW_HOSTS: host names (or IP addresses) the <c>web_fetch</c> tool may reach although they resolve to a
/// loopback, private, link-local or otherwise internal address. Empty by default: the tool reaches the public internet only.
/// </summary>
public sealed record WebFetchOptions(IReadOnlySet<string> AllowHosts)
{
    public static WebFetchOptions From(IConfiguration configuration) => new(
        (configuration["WEB_FETCH_ALLOW_HOSTS"] ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
        .Select(h => h.ToLowerInvariant()).ToHashSet());
}

/// <summary>
/// The <c>web_fetch</c> tool: an HTTP(S) GET of a URL, its text, HTML (as readable text) or JSON returned to the model.
/// At most <see cref="MaxBytes"/> of body (the rest is cut, and the result says so), <see cref="Timeout"/> in all,
/// <see cref="MaxRedirects"/> redirects. Every connection, the first and each redirect's, goes to an address checked after
/// DNS resolution (the very address connected to, so a name that resolves differently the second time gains nothing):
/// loopback, private, link-local (the cloud metadata endpoints), unspecified, multicast and carrier-grade NAT addresses are
/// refused unless WEB_FETCH_ALLOW_HOSTS names the host.
/// </summary>
public sealed partial class WebFetch : IDisposable
{
    public const int MaxBytes = 1024 * 1024;
    public const int MaxRedirects = 5;
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    private readonly WebFetchOptions _options;
    private readonly HttpClient _http;

    public WebFetch(WebFetchOptions options)
    {
        _options = options;
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false, // each hop is checked here
            AutomaticDecompression = DecompressionMethods.All,
            ConnectTimeout = TimeSpan.FromSeconds(10),
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
            UseProxy = false,
            ConnectCallback = ConnectAsync,
        };
        _http = new HttpClient(handler) { Timeout = System.Threading.Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.UserAgent.ParseAdd("Everruns-web_fetch/1.0");
    }

    /// <summary>Thrown when the URL or an address it leads to is refused; its message is the tool's error.</summary>
    public sealed class Refused(string message) : Exception(message);

    public async Task<string> FetchAsync(string url, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(Timeout);
        var target = Parse(url);
        for (var hop = 0; ; hop++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, target);
            request.Headers.Accept.ParseAdd("text/html, text/plain, application/json;q=0.9, */*;q=0.5");
            HttpResponseMessage response;
            try
            {
                response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            }
            catch (HttpRequestException e) when (e.InnerException is Refused refused)
            {
                throw refused;
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                throw new Refused($"{target} did not answer within {Timeout.TotalSeconds:0} s");
            }

            using (response)
            {
                if ((int)response.StatusCode is >= 300 and < 400 && response.Headers.Location is { } location)
                {
                    if (hop >= MaxRedirects) throw new Refused($"{url} redirects more than {MaxRedirects} times");
                    target = Parse(new Uri(target, location).ToString());
                    continue;
                }

                return await ReadAsync(url, target, response, timeout.Token);
            }
        }
    }

    private static Uri Parse(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            throw new Refused($"'{url}' is not an http(s) URL");
        if (!string.IsNullOrEmpty(uri.UserInfo)) throw new Refused("a URL with credentials in it is refused");
        return uri;
    }

    private static async Task<string> ReadAsync(string url, Uri final, HttpResponseMessage response, CancellationToken ct)
    {
        var mediaType = response.Content.Headers.ContentType?.MediaType ?? "application/octet-stream";
        await using var body = await response.Content.ReadAsStreamAsync(ct);
        var buffer = new byte[MaxBytes + 1];
        var read = 0;
        while (read < buffer.Length && await body.ReadAsync(buffer.AsMemory(read), ct) is var n and > 0) read += n;
        var truncated = read > MaxBytes;
        var bytes = buffer.AsSpan(0, Math.Min(read, MaxBytes));
        var charset = response.Content.Headers.ContentType?.CharSet;
        Encoding encoding;
        try
        {
            encoding = charset is null ? Encoding.UTF8 : Encoding.GetEncoding(charset.Trim('"'));
        }
        catch (ArgumentException)
        {
            encoding = Encoding.UTF8;
        }

        var isText = mediaType.StartsWith("text/", StringComparison.OrdinalIgnoreCase) || mediaType.Contains("json", StringComparison.OrdinalIgnoreCase)
                     || mediaType.Contains("xml", StringComparison.OrdinalIgnoreCase);
        var content = !isText ? $"({mediaType}, {read} bytes: not text)"
            : mediaType.Contains("html", StringComparison.OrdinalIgnoreCase) ? Readable(encoding.GetString(bytes))
            : encoding.GetString(bytes);
        var result = new JsonObject
        {
            ["url"] = url,
            ["final_url"] = final.ToString(),
            ["status"] = (int)response.StatusCode,
            ["content_type"] = mediaType,
            ["content"] = content,
        };
        if (truncated) result["truncated"] = $"only the first {MaxBytes} bytes were read";
        return result.ToJsonString();
    }

    /// <summary>HTML as text a model reads: no scripts, styles or tags, entities decoded, blank runs folded.</summary>
    public static string Readable(string html)
    {
        var text = NotShown().Replace(html, " ");
        text = BlockTag().Replace(text, "\n");
        text = Tag().Replace(text, "");
        text = WebUtility.HtmlDecode(text).Replace('\u00A0', ' ');
        text = Spaces().Replace(text, " ");
        return BlankLines().Replace(text, "\n\n").Trim();
    }

    [GeneratedRegex(@"<(script|style|noscript|template)\b[^>]*>.*?</\1\s*>|<!--.*?-->", RegexOptions.IgnoreCase | RegexOptions.Singleline)]
    private static partial Regex NotShown();

    [GeneratedRegex(@"<(br|/p|/div|/li|/h[1-6]|/tr|/section|/article|/header|/footer)\b[^>]*>", RegexOptions.IgnoreCase)]
    private static partial Regex BlockTag();

    [GeneratedRegex(@"<[^>]+>")]
    private static partial Regex Tag();

    [GeneratedRegex(@"[ \t\r\f\v]+")]
    private static partial Regex Spaces();

    [GeneratedRegex(@"\s*\n\s*(\n\s*)+")]
    private static partial Regex BlankLines();

    /// <summary>Resolves the host and connects only to an address it may reach.</summary>
    private async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken ct)
    {
        var host = context.DnsEndPoint.Host;
        var allowed = _options.AllowHosts.Contains(host.ToLowerInvariant());
        var addresses = IPAddress.TryParse(host, out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, ct);
        if (addresses.Length == 0) throw new Refused($"{host} does not resolve");
        if (!allowed && addresses.FirstOrDefault(Internal) is { } inside)
            throw new Refused($"{host} resolves to {inside}, {Describe(inside)}: refused (WEB_FETCH_ALLOW_HOSTS may name it)");

        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(addresses, context.DnsEndPoint.Port, ct);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>An address the tool may not reach by default.</summary>
    public static bool Internal(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        if (IPAddress.IsLoopback(address) || address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any) ||
            address.Equals(IPAddress.Broadcast)) return true;
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            var b = address.GetAddressBytes();
            return b[0] == 10 || b[0] == 0 || (b[0] == 172 && b[1] >= 16 && b[1] <= 31) || (b[0] == 192 && b[1] == 168)
                   || (b[0] == 169 && b[1] == 254) || (b[0] == 100 && b[1] >= 64 && b[1] <= 127) || b[0] >= 224
                   || (b[0] == 192 && b[1] == 0 && b[2] == 0) || (b[0] == 198 && (b[1] == 18 || b[1] == 19));
        }

        var v6 = address.GetAddressBytes();
        return address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6Multicast || address.IsIPv6UniqueLocal
               || (v6[0] == 0xfd && v6[1] == 0x00 && v6[2] == 0x0e && v6[3] == 0xc2); // fd00:ec2::/32, a cloud's metadata
    }

    private static string Describe(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        if (IPAddress.IsLoopback(address)) return "a loopback address";
        var b = address.GetAddressBytes();
        if (address.AddressFamily == AddressFamily.InterNetwork && b[0] == 169 && b[1] == 254) return "a link-local (metadata) address";
        if (address.IsIPv6LinkLocal) return "a link-local address";
        return "a private or reserved address";
    }

    public void Dispose() => _http.Dispose();
}
