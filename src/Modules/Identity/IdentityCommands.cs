using Everruns.Contracts;
using Everruns.Infrastructure;
using JasperFx;
using JasperFx.CommandLine;
using Microsoft.Extensions.DependencyInjection;

[assembly: JasperFxAssembly]

namespace Everruns.Modules.Identity;

// Operator verbs: tokens create|revoke|list, orgs create, rehash-api-keys. They act as "cli" in the audit log;
// tokens are printed to the console only, once.

// Lower case: the command line names them so, and JasperFx matches enum values exactly.
#pragma warning disable IDE1006
public enum TokenAction
{
    create,
    revoke,
    list,
}

public sealed class TokensInput : NetCoreInput
{
    [Description("create (a new user in the org, or with --user another token of that user), revoke <token_id>, or list")]
    public TokenAction Action { get; set; }

    [Description("The token to revoke")]
    public string? TokenId { get; set; }

    [Description("The org (default: the bootstrap org)"), FlagAlias("org", true)]
    public string? OrgFlag { get; set; }

    [Description("The token's name"), FlagAlias("name", true)]
    public string? NameFlag { get; set; }

    [Description("admin or member (a new user's role)"), FlagAlias("role", true)]
    public string? RoleFlag { get; set; }

    [Description("An existing user to give another token"), FlagAlias("user", true)]
    public string? UserFlag { get; set; }

    [Description("Days until the token expires (1 to 3650)"), FlagAlias("expires-in-days", true)]
    public int? ExpiresInDaysFlag { get; set; }
}

[Description("Create, revoke or list personal access tokens", Name = "tokens")]
public sealed class TokensCommand : EverrunsCommand<TokensInput>
{
    private const string Actor = "cli";

    public TokensCommand()
    {
        Usage("Create, list").Arguments(x => x.Action);
        Usage("Revoke a token").Arguments(x => x.Action, x => x.TokenId!);
    }

    protected override async Task<bool> RunAsync(TokensInput input, IServiceProvider services, TextWriter console)
    {
        var store = services.GetRequiredService<IdentityStore>();
        await services.GetRequiredService<IdentityBootstrap>().RunAsync(console, CancellationToken.None);
        switch (input.Action)
        {
            case TokenAction.create:
            {
                var name = input.NameFlag ?? "cli token";
                if (input.ExpiresInDaysFlag is < 1 or > 3650) return Fail(console, "--expires-in-days must be from 1 to 3650");
                DateTimeOffset? expires = input.ExpiresInDaysFlag is { } days ? DateTimeOffset.UtcNow.AddDays(days) : null;
                if (input.UserFlag is { } userId)
                {
                    var created = await store.CreateTokenAsync(userId, name, expires, null, Actor, CancellationToken.None);
                    if (created is not { } c) return Fail(console, $"user {userId} has {IdentityStore.MaxTokensPerUser} live tokens already");
                    await console.WriteLineAsync($"token id: {c.Token.Id}\nuser:     {userId}\ntoken:    {c.Plaintext}");
                    return true;
                }

                var org = input.OrgFlag ?? Tenancy.DefaultOrgId;
                var role = input.RoleFlag ?? Caller.MemberRole;
                if (role is not (Caller.AdminRole or Caller.MemberRole)) return Fail(console, "--role must be admin or member");
                if (await store.OrgAsync(org, CancellationToken.None) is null) return Fail(console, $"organization {org} not found");
                var (member, token, plaintext) = await store.CreateMemberAsync(org, name, role, Actor, CancellationToken.None);
                await console.WriteLineAsync($"token id: {token.Id}\nuser:     {member.UserId} ({role} of {org})\ntoken:    {plaintext}");
                return true;
            }
            case TokenAction.revoke:
                if (input.TokenId is not { } tokenId) return Fail(console, "usage: tokens revoke <token_id>");
                if (!await store.RevokeTokenAsync(tokenId, null, Actor, CancellationToken.None)) return Fail(console, $"no live token {tokenId}");
                await console.WriteLineAsync($"revoked {tokenId}");
                return true;
            default:
            {
                var org = input.OrgFlag ?? Tenancy.DefaultOrgId;
                foreach (var member in await store.MembersAsync(org, CancellationToken.None))
                foreach (var token in await store.TokensOfAsync(member.UserId, CancellationToken.None))
                    await console.WriteLineAsync(
                        $"{token.Id}  {token.TokenPrefix}  {member.UserId} ({member.Role})  {token.Name}  last used {token.LastUsedAt?.ToString("u") ?? "never"}");
                return true;
            }
        }
    }
}

public enum OrgAction
{
    create,
}
#pragma warning restore IDE1006

public sealed class OrgsInput : NetCoreInput
{
    [Description("create")]
    public OrgAction Action { get; set; }

    [Description("The new org's name")]
    public string Name { get; set; } = "";
}

[Description("Create an org with an admin user (prints the admin's token once)", Name = "orgs")]
public sealed class OrgsCommand : EverrunsCommand<OrgsInput>
{
    protected override async Task<bool> RunAsync(OrgsInput input, IServiceProvider services, TextWriter console)
    {
        if (string.IsNullOrWhiteSpace(input.Name)) return Fail(console, "usage: orgs create <name>");
        var store = services.GetRequiredService<IdentityStore>();
        await services.GetRequiredService<IdentityBootstrap>().RunAsync(console, CancellationToken.None);
        var orgId = Ids.New(Ids.Org);
        var (member, token, plaintext) = await store.CreateOrgWithAdminAsync(orgId, input.Name.Trim(), "cli", CancellationToken.None);
        await console.WriteLineAsync($"org:      {orgId}\nadmin:    {member.UserId}\ntoken id: {token.Id}\ntoken:    {plaintext}");
        return true;
    }
}

public sealed class RehashApiKeysInput : NetCoreInput
{
    [Description("End the rotation window: revoke the tokens not used (so not re-hashed) since it began"), FlagAlias("revoke-remaining", true)]
    public bool RevokeRemainingFlag { get; set; }
}

/// <summary>
/// HMAC is one-way, so a token can be re-hashed only when it is presented: during the window (API_KEY_SECRET new,
/// API_KEY_SECRET_PREVIOUS old) each token is re-hashed on its first use. This verb reports the progress, and with
/// --revoke-remaining ends the window by revoking the tokens not used (so not re-hashed) since.
/// </summary>
[Description("Report the API_KEY_SECRET rotation's progress, or end it", Name = "rehash-api-keys")]
public sealed class RehashApiKeysCommand : EverrunsCommand<RehashApiKeysInput>
{
    protected override async Task<bool> RunAsync(RehashApiKeysInput input, IServiceProvider services, TextWriter console)
    {
        var store = services.GetRequiredService<IdentityStore>();
        var (current, previous, other) = await store.TokenSecretsAsync(CancellationToken.None);
        await console.WriteLineAsync(
            $"live tokens hashed under API_KEY_SECRET: {current}; under API_KEY_SECRET_PREVIOUS: {previous}; under an older secret: {other}");
        if (input.RevokeRemainingFlag)
        {
            var revoked = await store.RevokeStaleSecretTokensAsync("cli", CancellationToken.None);
            await console.WriteLineAsync($"revoked {revoked} token(s) not re-hashed under the current secret; API_KEY_SECRET_PREVIOUS can go");
            return true;
        }

        await console.WriteLineAsync(previous + other == 0
            ? "every live token is hashed under the current secret: API_KEY_SECRET_PREVIOUS can go"
            : "tokens re-hash on their next use; run with --revoke-remaining to end the window and revoke the rest");
        return true;
    }
}
