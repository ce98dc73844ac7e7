using System.Collections.Concurrent;
using System.Reflection;
using Everruns.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Everruns.Modules.Dashboard;

/// <summary>
/// The browser dashboard under <c>/ui</c>: static pages and ES modules compiled into this assembly, which use the public
/// API and SSE with a dashboard session cookie (<c>POST /v1/auth/session</c>) like any third-party page would. Every
/// instance serves it; it holds no state of its own.
/// </summary>
public sealed class DashboardModule : IEverrunsModule
{
    public string Name => "dashboard";

    private static readonly Assembly Self = typeof(DashboardModule).Assembly;
    private static readonly ConcurrentDictionary<string, byte[]?> Files = new();

    public void AddServices(IServiceCollection services, IConfiguration configuration)
    {
    }

    public void MapEndpoints(IEndpointRouteBuilder endpoints)
    {
        // Routing ignores a trailing slash: /ui and /ui/ both land here, and only /ui is sent on (relative URLs need the slash).
        endpoints.MapGet("/ui", (HttpContext http) => http.Request.Path.Value!.EndsWith('/') ? Serve(null, http) : Results.Redirect("/ui/"))
            .AllowAnonymous().ExcludeFromDescription();
        endpoints.MapGet("/ui/{**path}", (string? path, HttpContext http) => Serve(path, http)).AllowAnonymous().ExcludeFromDescription();
    }

    private static IResult Serve(string? path, HttpContext http)
    {
        path = string.IsNullOrEmpty(path) ? "index.html" : path;
        var bytes = Read(path);
        // A page route of the app (/ui/sessions/...) is the app itself; a missing asset is a 404.
        if (bytes is null && !Path.HasExtension(path)) (path, bytes) = ("index.html", Read("index.html"));
        if (bytes is null) return Results.NotFound();
        var headers = http.Response.Headers;
        headers.ContentSecurityPolicy = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "no-referrer";
        headers.CacheControl = "no-cache";
        return Results.Bytes(bytes, ContentType(path));
    }

    private static byte[]? Read(string path) => Files.GetOrAdd(path, p =>
    {
        if (p.Contains("..", StringComparison.Ordinal)) return null;
        using var stream = Self.GetManifestResourceStream("ui/" + p);
        if (stream is null) return null;
        using var memory = new MemoryStream();
        stream.CopyTo(memory);
        return memory.ToArray();
    });

    private static string ContentType(string path) => Path.GetExtension(path) switch
    {
        ".html" => "text/html; charset=utf-8",
        ".js" => "text/javascript; charset=utf-8",
        ".css" => "text/css; charset=utf-8",
        ".svg" => "image/svg+xml",
        ".png" => "image/png",
        _ => "application/octet-stream",
    };
}
