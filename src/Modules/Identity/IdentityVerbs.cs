using Everruns.Contracts;
using Microsoft.Extensions.DependencyInjection;

namespace Everruns.Modules.Identity;

/// <summary>
/// Operator verbs: <c>tokens create|revoke|list</c>, <c>orgs create</c>, <c>rehash-api-keys</c>. They act as
/// <c>cli</c> in the audit log. Tokens are printed to the console only, once.
/// </summary>
public static class IdentityVerbs
{
    private const string Actor = "cli";

    public static readonly IReadOnlyDictionary<string, Func<IServiceProvider, string[], TextWriter, Task<int>>> All =
        new Dictionary<string, Func<IServiceProvider, string[], TextWriter, Task<int>>>
        {
            ["tokens"] = Tokens,
            ["orgs"] = Orgs,
            ["rehash-api-keys"] = RehashApiKeys,
        };

    private static async Task<int> Tokens(IServiceProvider services, string[] args, TextWriter console)
    {
        var store = services.GetRequiredService<IdentityStore>();
        await services.GetRequiredService<IdentityBootstrap>().RunAsync(console, CancellationToken.None);
        var options = Options(args.Skip(1));
        switch (args.FirstOrDefault())
        {
            case "create":
            {
                var name = options.GetValueOrDefault("name") ?? "cli token";
                int? days = options.TryGetValue("expires-in-days", out var d) ? int.TryParse(d, out var n) && n is >= 1 and <= 3650 ? n : -1 : null;
                if (days == -1) return Fail(console, "--expires-in-days must be from 1 to 3650");
                if (options.TryGetValue("user", out var userId))
                {
                    var created = await store.CreateTokenAsync(userId, name,
                        days is { } dd ? DateTimeOffset.UtcNow.AddDays(dd) : null, null, Actor, CancellationToken.None);
                    if (created is not { } c) return Fail(console, $"user {userId} has {IdentityStore.MaxTokensPerUser} live tokens already");
                    await console.WriteLineAsync($"token id: {c.Token.Id}\nuser:     {userId}\ntoken:    {c.Plaintext}");
                    return 0;
                }

                var org = options.GetValueOrDefault("org") ?? Tenancy.DefaultOrgId;
                var role = options.GetValueOrDefault("role") ?? Caller.MemberRole;
                if (role is not (Caller.AdminRole or Caller.MemberRole)) return Fail(console, "--role must be admin or member");
                if (await store.OrgAsync(org, CancellationToken.None) is null) return Fail(console, $"organization {org} not found");
                var (member, token, plaintext) = await store.CreateMemberAsync(org, name, role, Actor, CancellationToken.None);
                await console.WriteLineAsync($"token id: {token.Id}\nuser:     {member.UserId} ({role} of {org})\ntoken:    {plaintext}");
                return 0;
            }
            case "revoke" when args.Length > 1:
                if (!await store.RevokeTokenAsync(args[1], null, Actor, CancellationToken.None))
                    return Fail(console, $"no live token {args[1]}");
                await console.WriteLineAsync($"revoked {args[1]}");
                return 0;
            case "list":
            {
                var org = options.GetValueOrDefault("org") ?? Tenancy.DefaultOrgId;
                foreach (var member in await store.MembersAsync(org, CancellationToken.None))
                foreach (var token in await store.TokensOfAsync(member.UserId, CancellationToken.None))
                    await console.WriteLineAsync(
                        $"{token.Id}  {token.TokenPrefix}  {member.UserId} ({member.Role})  {token.Name}  last used {token.LastUsedAt?.ToString("u") ?? "never"}");
                return 0;
            }
            default:
                return Fail(console, """
                    usage: tokens create [--org <org_id>] [--name <name>] [--role admin|member] [--expires-in-days <n>]
                                         (a new user in the org, default org unless --org)
                           tokens create --user <user_id> [--name <name>]   (another token for an existing user)
                           tokens revoke <token_id>
                           tokens list [--org <org_id>]
                    """);
        }
    }

    private static async Task<int> Orgs(IServiceProvider services, string[] args, TextWriter console)
    {
        if (args is not ["create", var name, ..] || string.IsNullOrWhiteSpace(name))
            return Fail(console, "usage: orgs create <name>   (a new org with an admin user; prints the admin's token once)");
        var store = services.GetRequiredService<IdentityStore>();
        await services.GetRequiredService<IdentityBootstrap>().RunAsync(console, CancellationToken.None);
        // The org is created with a fresh admin user, whose first token is printed.
        var orgId = Ids.New(Ids.Org);
        var (member, token, plaintext) = await store.CreateOrgWithAdminAsync(orgId, name.Trim(), Actor, CancellationToken.None);
        await console.WriteLineAsync($"org:      {orgId}\nadmin:    {member.UserId}\ntoken id: {token.Id}\ntoken:    {plaintext}");
        return 0;
    }

    /// <summary>
    /// HMAC is one-way, so a token can be re-hashed only when it is presented: during the window (API_KEY_SECRET new,
    /// API_KEY_SECRET_PREVIOUS old) each token is re-hashed on its first use. This verb reports the progress, and with
    /// --revoke-remaining ends the window by revoking the tokens not used (so not re-hashed) since.
    /// </summary>
    private static async Task<int> RehashApiKeys(IServiceProvider services, string[] args, TextWriter console)
    {
        var store = services.GetRequiredService<IdentityStore>();
        var (current, previous, other) = await store.TokenSecretsAsync(CancellationToken.None);
        await console.WriteLineAsync(
            $"live tokens hashed under API_KEY_SECRET: {current}; under API_KEY_SECRET_PREVIOUS: {previous}; under an older secret: {other}");
        if (args.Contains("--revoke-remaining"))
        {
            var revoked = await store.RevokeStaleSecretTokensAsync(Actor, CancellationToken.None);
            await console.WriteLineAsync($"revoked {revoked} token(s) not re-hashed under the current secret; API_KEY_SECRET_PREVIOUS can go");
            return 0;
        }

        await console.WriteLineAsync(previous + other == 0
            ? "every live token is hashed under the current secret: API_KEY_SECRET_PREVIOUS can go"
            : "tokens re-hash on their next use; run with --revoke-remaining to end the window and revoke the rest");
        return 0;
    }

    private static Dictionary<string, string> Options(IEnumerable<string> args)
    {
        var options = new Dictionary<string, string>();
        string? key = null;
        foreach (var arg in args)
        {
            if (arg.StartsWith("--", StringComparison.Ordinal)) key = arg[2..];
            else if (key is not null)
            {
                options[key] = arg;
                key = null;
            }
        }

        return options;
    }

    private static int Fail(TextWriter console, string message)
    {
        console.WriteLine(message);
        return 2;
    }
}
