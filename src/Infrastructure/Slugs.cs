using System.Text;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace Everruns.Infrastructure;

/// <summary>Names of agents and harnesses: lowercase slugs, unique per org.</summary>
public static partial class Slugs
{
    public const int MaxLength = 64;

    [GeneratedRegex("^[a-z0-9]+(-[a-z0-9]+)*$")]
    private static partial Regex Pattern();

    public static bool IsSlug(string? name) => name is { Length: > 0 and <= MaxLength } && Pattern().IsMatch(name);

    /// <summary>400 <c>invalid_name</c> unless <paramref name="name"/> is a slug.</summary>
    public static ProblemDetails? Check(string? name) =>
        string.IsNullOrEmpty(name) ? Problems.BadRequest("invalid_name", "name is required")
        : IsSlug(name) ? null
        : Problems.BadRequest("invalid_name",
            $"name must be lowercase letters, digits and single hyphens between them (like 'customer-support'), at most {MaxLength} characters");

    /// <summary>Lowercase; anything but letters and digits becomes one hyphen; trimmed of hyphens and to the length.</summary>
    public static string Slugify(string text)
    {
        var builder = new StringBuilder();
        foreach (var c in text.ToLowerInvariant())
        {
            if (c is >= 'a' and <= 'z' or >= '0' and <= '9') builder.Append(c);
            else if (builder.Length > 0 && builder[^1] != '-') builder.Append('-');
        }

        var slug = builder.ToString().Trim('-');
        if (slug.Length > MaxLength) slug = slug[..MaxLength].TrimEnd('-');
        return slug;
    }

    /// <summary>
    /// The first of <c>{name}-copy</c>, <c>{name}-copy-2</c>, … that <paramref name="taken"/> says is free (shortened to fit).
    /// Two copies at once may pick the same: the unique index refuses the second (409).
    /// </summary>
    public static async Task<string> CopyNameAsync(string name, Func<string, Task<bool>> taken)
    {
        for (var n = 1; ; n++)
        {
            var suffix = n == 1 ? "-copy" : $"-copy-{n}";
            var candidate = (name.Length + suffix.Length > MaxLength ? name[..(MaxLength - suffix.Length)].TrimEnd('-') : name) + suffix;
            if (!await taken(candidate)) return candidate;
        }
    }

    /// <summary>The display name of a copy.</summary>
    public static string? CopyDisplayName(string? displayName) => displayName is null ? null : $"{displayName} (copy)";

    /// <summary>
    /// An example's name, or, when <paramref name="taken"/> says the org has it, the name with a random suffix of five
    /// lowercase letters and digits (<c>{name}-x7k2q</c>) that is free.
    /// </summary>
    public static async Task<string> ExampleNameAsync(string name, Func<string, Task<bool>> taken)
    {
        var chosen = name;
        while (await taken(chosen)) chosen = $"{name}-{RandomSuffix()}";
        return chosen;
    }

    private static string RandomSuffix() =>
        new(Enumerable.Range(0, 5).Select(_ => "abcdefghijklmnopqrstuvwxyz0123456789"[System.Security.Cryptography.RandomNumberGenerator.GetInt32(36)]).ToArray());

    /// <summary>
    /// <c>GET …/check-name?name=&amp;exclude_id=</c> of agents and harnesses: whether <c>name</c> is free (a malformed or
    /// <paramref name="reserved"/> one is not), or held by <c>exclude_id</c> itself. <paramref name="holderOf"/>: the id
    /// of the org's resource with that name, or null.
    /// </summary>
    public static async Task<IResult> CheckNameAsync(HttpRequest http, string idPrefix, Func<string, Task<string?>> holderOf, params string[] reserved)
    {
        var name = http.Query["name"].ToString();
        var exclude = http.Query["exclude_id"].ToString();
        if (string.IsNullOrEmpty(name)) return Problems.Result(Problems.BadRequest("invalid_name", "name is required"));
        if (exclude.Length > 0 && !Contracts.Ids.IsValid(exclude, idPrefix))
            return Problems.Result(Problems.BadRequest($"invalid_{idPrefix}_id", $"'{exclude}' is not a {idPrefix} id ({idPrefix}_<32 hex>)"));
        if (!IsSlug(name) || reserved.Contains(name)) return Results.Ok(new CheckNameResponse(false));
        var holder = await holderOf(name);
        return Results.Ok(new CheckNameResponse(holder is null || holder == exclude));
    }

    /// <summary><c>GET …/config</c>: what the caller may do with a kind of resource (view and manage: members; dangerous: org admins).</summary>
    public static ResourceConfigResponse Policies(HttpRequest http, string resource) => new(new Dictionary<string, bool>
    {
        [$"{resource}_view"] = true, [$"{resource}_manage"] = true, [$"{resource}_dangerous"] = http.Caller().IsOrgAdmin,
    });
}

public sealed record CheckNameResponse(bool Available);

public sealed record ResourceConfigResponse(IReadOnlyDictionary<string, bool> Policies);
