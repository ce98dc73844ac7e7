using System.Text.Json;
using Everruns.Contracts;
using Marten;
using Marten.Patching;
using Npgsql;

namespace Everruns.Modules.Identity;

public sealed record OrgRecord(string Id, string Name, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, OrgDefaults Defaults,
    DateTimeOffset? OnboardingCompletedAt);

/// <summary>
/// An org's defaults: its model, the harness the UI preselects and the one a session without a harness gets, and its default
/// provider per service kind (<see cref="ServiceKinds"/>).
/// </summary>
public sealed record OrgDefaults(string? ModelId, string? HarnessId, string? BaseHarnessId, Dictionary<string, string> ProviderPerService)
{
    public static readonly string[] ServiceKinds = ["chat", "embeddings", "realtime", "images", "rerank"];

    public static OrgDefaults None => new(null, null, null, []);
}

/// <summary>What a PATCH of an org changes: each field that is not null (a provider map replaces the whole map).</summary>
public sealed record OrgChanges(string? Name, string? ModelId, string? HarnessId, string? BaseHarnessId,
    Dictionary<string, string>? ProviderPerService);

public sealed record TokenRecord(
    string Id, string UserId, string Name, string TokenPrefix, string[] Scopes, DateTimeOffset CreatedAt,
    DateTimeOffset? ExpiresAt, DateTimeOffset? LastUsedAt, DateTimeOffset? RevokedAt);

public sealed record MemberRecord(string UserId, string Name, string Role, DateTimeOffset CreatedAt);

// The deployment's identities: Marten documents of no org (they say which orgs exist and who belongs to them).

/// <summary>An org: a tenant of every other document.</summary>
public sealed class Org
{
    public string Id { get; set; } = "";
    public string Name { get; set; } = "";
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
    public OrgDefaults Defaults { get; set; } = OrgDefaults.None;
    public DateTimeOffset? OnboardingCompletedAt { get; set; }

    public OrgRecord ToRecord() => new(Id, Name, CreatedAt, UpdatedAt, Defaults, OnboardingCompletedAt);
}

/// <summary>A user and the orgs they belong to, with their role in each.</summary>
public sealed class User
{
    public string Id { get; set; } = "";
    public string Name { get; set; } = "";
    public bool SystemAdmin { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public List<Membership> Orgs { get; set; } = [];

    [Marten.Schema.Version]
    public Guid Version { get; set; }
}

public sealed record Membership(string OrgId, string Role, DateTimeOffset JoinedAt);

/// <summary>A personal access token: only its keyed hash is kept, under the secret <see cref="SecretId"/> names.</summary>
public sealed class AccessToken
{
    public string Id { get; set; } = "";
    public string UserId { get; set; } = "";
    public string Name { get; set; } = "";
    public string TokenPrefix { get; set; } = "";
    public string Hash { get; set; } = "";
    public string SecretId { get; set; } = "";
    public string[] Scopes { get; set; } = ["*"];
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? ExpiresAt { get; set; }
    public DateTimeOffset? LastUsedAt { get; set; }
    public DateTimeOffset? RevokedAt { get; set; }

    public TokenRecord ToRecord() => new(Id, UserId, Name, TokenPrefix, Scopes, CreatedAt, ExpiresAt, LastUsedAt, RevokedAt);
}

/// <summary>For Sessions: the org's default model (read when a session is opened).</summary>
public sealed class OrgDefaultsReader(IDocumentStore store) : IOrgDefaults
{
    public async Task<string?> ModelAsync(string orgId, CancellationToken ct = default)
    {
        await using var session = store.QuerySession();
        return (await session.LoadAsync<Org>(orgId, ct))?.Defaults.ModelId;
    }

    public async Task<string?> HarnessAsync(string orgId, CancellationToken ct = default)
    {
        await using var session = store.QuerySession();
        return (await session.LoadAsync<Org>(orgId, ct))?.Defaults.HarnessId;
    }
}

/// <summary>
/// Orgs, users, memberships and tokens, as Marten documents. Every change runs in one transaction with its audit entry
/// and its <c>identity_changed</c> announcement, then evicts this instance's cache.
/// </summary>
public sealed class IdentityStore(IDocumentStore store, IdentityOptions options, TokenCache cache, IdentityChanges changes)
{
    public const int MaxTokensPerUser = 100;
    private readonly string _secretId = AccessTokens.SecretId(options.ApiKeySecret);
    private readonly string? _previousSecretId = options.ApiKeySecretPrevious is { } p ? AccessTokens.SecretId(p) : null;

    public string CurrentSecretId => _secretId;
    public string? PreviousSecretId => _previousSecretId;

    /// <summary>Identity's documents in Marten: none is an org's, a token is found by its hash.</summary>
    public static void Configure(StoreOptions marten)
    {
        marten.Schema.For<Org>().SingleTenanted();
        marten.Schema.For<User>().SingleTenanted().UseOptimisticConcurrency(true);
        marten.Schema.For<AccessToken>().SingleTenanted()
            .UniqueIndex(Marten.Schema.UniqueIndexType.Computed, "uq_access_token_hash", t => t.Hash)
            .Index(t => t.UserId);
        marten.Schema.For<UiSession>().SingleTenanted().Index(s => s.TokenId);
    }

    /// <summary>The principal of a well-formed token (check <see cref="TokenPrincipal.ExpiresAt"/>), or null when it is unknown or revoked.</summary>
    public async Task<TokenPrincipal?> ResolveAsync(string token, CancellationToken ct)
    {
        var hash = AccessTokens.Hash(options.ApiKeySecret, token);
        return await cache.GetOrLookUpAsync(hash, () => LoadAsync(token, hash, CancellationToken.None), ct);
    }

    private async Task<TokenPrincipal?> LoadAsync(string token, string hash, CancellationToken ct)
    {
        string[] hashes = options.ApiKeySecretPrevious is { } previous ? [hash, AccessTokens.Hash(previous, token)] : [hash];
        await using var session = store.LightweightSession();
        var found = await session.Query<AccessToken>().FirstOrDefaultAsync(t => hashes.Contains(t.Hash) && t.RevokedAt == null, ct);
        if (found is null) return null;
        var user = await session.LoadAsync<User>(found.UserId, ct);
        if (user is null) return null;

        // Patched, not stored: a revocation committed meanwhile stays.
        session.Patch<AccessToken>(found.Id).Set(t => t.LastUsedAt, DateTimeOffset.UtcNow);
        if (found.Hash != hash)
        {
            // Hashed under API_KEY_SECRET_PREVIOUS: re-hashed under the current secret now that the token is at hand.
            session.Patch<AccessToken>(t => t.Id == found.Id && t.Hash == found.Hash).Set(t => t.Hash, hash);
            session.Patch<AccessToken>(t => t.Id == found.Id && t.Hash == hash).Set(t => t.SecretId, _secretId);
        }

        await session.SaveChangesAsync(ct);
        return new TokenPrincipal(found.Id, user.Id, user.SystemAdmin, user.Orgs.ToDictionary(m => m.OrgId, m => m.Role), found.ExpiresAt);
    }

    // ---- dashboard sessions -------------------------------------------------------------------------------------

    /// <summary>A dashboard session for the token's user (the cookie's secret, and the stored session under its HMAC).</summary>
    public Task<(string Secret, UiSession Session)> CreateUiSessionAsync(TokenPrincipal principal, CancellationToken ct) =>
        InTransactionAsync(async (session, connection) =>
        {
            var secret = UiSessions.NewSecret();
            var now = DateTimeOffset.UtcNow;
            var expires = now + UiSessions.Lifetime;
            if (principal.ExpiresAt < expires) expires = principal.ExpiresAt.Value;
            var ui = new UiSession
            {
                Id = AccessTokens.Hash(options.ApiKeySecret, secret), TokenId = principal.TokenId, UserId = principal.UserId,
                CsrfToken = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)).ToLowerInvariant(),
                CreatedAt = now, ExpiresAt = expires,
            };
            session.Store(ui);
            await AuditAsync(connection, null, $"user:{principal.UserId}", "ui_session.created", principal.TokenId, new() { ["user_id"] = principal.UserId }, ct);
            return (secret, ui);
        }, [], ct);

    /// <summary>
    /// The principal of a dashboard cookie: its session's token's (null when the session is unknown, expired or signed out, or
    /// its token revoked or expired). Cached like tokens; sign-outs and revocations evict it on every instance.
    /// </summary>
    public async Task<TokenPrincipal?> ResolveUiSessionAsync(string secret, CancellationToken ct)
    {
        var id = AccessTokens.Hash(options.ApiKeySecret, secret);
        return await cache.GetOrLookUpAsync("ui:" + id, async () =>
        {
            await using var session = store.QuerySession();
            var ui = await session.LoadAsync<UiSession>(id, CancellationToken.None);
            if (ui is null || ui.ExpiresAt <= DateTimeOffset.UtcNow) return null;
            var token = await session.LoadAsync<AccessToken>(ui.TokenId, CancellationToken.None);
            if (token is null || token.RevokedAt is not null || token.ExpiresAt <= DateTimeOffset.UtcNow) return null;
            var user = await session.LoadAsync<User>(ui.UserId, CancellationToken.None);
            if (user is null) return null;
            return new TokenPrincipal(token.Id, user.Id, user.SystemAdmin, user.Orgs.ToDictionary(m => m.OrgId, m => m.Role), ui.ExpiresAt,
                ui.Id, ui.CsrfToken);
        }, ct);
    }

    /// <summary>Signs a dashboard session out, on every instance.</summary>
    public Task<bool> DeleteUiSessionAsync(string sessionId, string actor, CancellationToken ct) =>
        InTransactionAsync(async (session, connection) =>
        {
            session.Delete<UiSession>(sessionId);
            await AuditAsync(connection, null, actor, "ui_session.ended", null, new(), ct);
            return true;
        }, [sessionId], ct);

    // ---- orgs -------------------------------------------------------------------------------------------------

    /// <summary>The user's orgs, each with the user's role there.</summary>
    public async Task<List<(OrgRecord Org, string Role)>> OrgsOfAsync(string userId, CancellationToken ct)
    {
        await using var session = store.QuerySession();
        var user = await session.LoadAsync<User>(userId, ct);
        if (user is null || user.Orgs.Count == 0) return [];
        var orgs = await session.LoadManyAsync<Org>(ct, user.Orgs.Select(m => m.OrgId));
        return orgs.OrderBy(o => o.CreatedAt).ThenBy(o => o.Id, StringComparer.Ordinal)
            .Select(o => (o.ToRecord(), user.Orgs.First(m => m.OrgId == o.Id).Role)).ToList();
    }

    public async Task<OrgRecord?> OrgAsync(string orgId, CancellationToken ct)
    {
        await using var session = store.QuerySession();
        return (await session.LoadAsync<Org>(orgId, ct))?.ToRecord();
    }

    /// <summary>A new, empty org (its first admin is added as a member next).</summary>
    public Task<OrgRecord> CreateOrgAsync(string name, string actor, CancellationToken ct) =>
        InTransactionAsync((session, connection) => InsertOrgAsync(session, connection, Ids.New(Ids.Org), name, actor, ct), [], ct);

    /// <summary>A new org with a new admin user and that user's first token, in one transaction (the CLI's <c>orgs create</c>).</summary>
    public Task<(MemberRecord Member, TokenRecord Token, string Plaintext)> CreateOrgWithAdminAsync(string orgId, string name,
        string actor, CancellationToken ct) =>
        InTransactionAsync(async (session, connection) =>
        {
            await InsertOrgAsync(session, connection, orgId, name, actor, ct);
            return await NewMemberAsync(session, connection, orgId, $"{name} admin", Caller.AdminRole, actor, ct);
        }, [orgId], ct);

    private static async Task<OrgRecord> InsertOrgAsync(IDocumentSession session, NpgsqlConnection connection, string id, string name,
        string actor, CancellationToken ct)
    {
        var now = DateTimeOffset.UtcNow;
        var org = new Org { Id = id, Name = name, CreatedAt = now, UpdatedAt = now };
        session.Insert(org);
        await AuditAsync(connection, org.Id, actor, "org.created", org.Id, new() { ["name"] = name }, ct);
        return org.ToRecord();
    }

    /// <summary>Renames the org and changes its defaults, as far as <paramref name="changes"/> says.</summary>
    public Task<OrgRecord?> UpdateOrgAsync(string orgId, OrgChanges changes, string actor, CancellationToken ct) =>
        InTransactionAsync(async (session, connection) =>
        {
            var org = await session.LoadAsync<Org>(orgId, ct);
            if (org is null) return null;
            org.Name = changes.Name ?? org.Name;
            org.Defaults = new OrgDefaults(changes.ModelId ?? org.Defaults.ModelId, changes.HarnessId ?? org.Defaults.HarnessId,
                changes.BaseHarnessId ?? org.Defaults.BaseHarnessId, changes.ProviderPerService ?? org.Defaults.ProviderPerService);
            org.UpdatedAt = DateTimeOffset.UtcNow;
            session.Store(org);
            await AuditAsync(connection, org.Id, actor, "org.updated", org.Id, new() { ["name"] = org.Name }, ct);
            return org.ToRecord();
        }, [orgId], ct);

    /// <summary>The user's role in the org, read now (membership checks of org management do not trust the cache); null when not a member.</summary>
    public async Task<string?> RoleAsync(string userId, string orgId, CancellationToken ct)
    {
        await using var session = store.QuerySession();
        return (await session.LoadAsync<User>(userId, ct))?.Orgs.FirstOrDefault(m => m.OrgId == orgId)?.Role;
    }

    // ---- users and members ------------------------------------------------------------------------------------

    public async Task<List<MemberRecord>> MembersAsync(string orgId, CancellationToken ct)
    {
        await using var session = store.QuerySession();
        var users = await session.Query<User>().Where(u => u.Orgs.Any(m => m.OrgId == orgId)).ToListAsync(ct);
        return users.Select(u => (User: u, Membership: u.Orgs.First(m => m.OrgId == orgId)))
            .OrderBy(x => x.Membership.JoinedAt).ThenBy(x => x.User.Id, StringComparer.Ordinal)
            .Select(x => new MemberRecord(x.User.Id, x.User.Name, x.Membership.Role, x.Membership.JoinedAt)).ToList();
    }

    /// <summary>A new user in the org with a first token (the plaintext is returned once).</summary>
    public Task<(MemberRecord Member, TokenRecord Token, string Plaintext)> CreateMemberAsync(string orgId, string name, string role,
        string actor, CancellationToken ct) =>
        InTransactionAsync((session, connection) => NewMemberAsync(session, connection, orgId, name, role, actor, ct), [orgId], ct);

    /// <summary>A new member with a first token, audited, in the caller's transaction.</summary>
    private async Task<(MemberRecord Member, TokenRecord Token, string Plaintext)> NewMemberAsync(IDocumentSession session,
        NpgsqlConnection connection, string orgId, string name, string role, string actor, CancellationToken ct)
    {
        var created = InsertMember(session, orgId, name, role, false, $"{name} (first token)", null);
        var userId = created.Member.UserId;
        await AuditAsync(connection, orgId, actor, "member.added", userId, new() { ["role"] = role, ["name"] = name }, ct);
        await AuditAsync(connection, orgId, actor, "token.created", created.Token.Id, new() { ["user_id"] = userId }, ct);
        return created;
    }

    /// <summary>A user, their membership of the org and a first token, in the caller's transaction (unaudited).</summary>
    private (MemberRecord Member, TokenRecord Token, string Plaintext) InsertMember(IDocumentSession session, string orgId, string name,
        string role, bool systemAdmin, string tokenName, string? plaintext)
    {
        var now = DateTimeOffset.UtcNow;
        var user = new User { Id = Ids.New(Ids.User), Name = name, SystemAdmin = systemAdmin, CreatedAt = now, Orgs = [new(orgId, role, now)] };
        session.Insert(user);
        var (token, secret) = InsertToken(session, user.Id, tokenName, null, plaintext);
        return (new MemberRecord(user.Id, name, role, now), token, secret);
    }

    /// <summary>Adds an existing user to the org, or changes their role. False when the user does not exist.</summary>
    public Task<bool> SetMemberAsync(string orgId, string userId, string role, string actor, CancellationToken ct) =>
        InTransactionAsync(async (session, connection) =>
        {
            var user = await session.LoadAsync<User>(userId, ct);
            if (user is null) return false;
            var joined = user.Orgs.FirstOrDefault(m => m.OrgId == orgId)?.JoinedAt ?? DateTimeOffset.UtcNow;
            user.Orgs = [.. user.Orgs.Where(m => m.OrgId != orgId), new Membership(orgId, role, joined)];
            session.Store(user); // its version checked: a concurrent change of the same user fails this one, which is retried
            await AuditAsync(connection, orgId, actor, "member.added", userId, new() { ["role"] = role }, ct);
            return true;
        }, [userId], ct);

    public Task<bool> RemoveMemberAsync(string orgId, string userId, string actor, CancellationToken ct) =>
        InTransactionAsync(async (session, connection) =>
        {
            var user = await session.LoadAsync<User>(userId, ct);
            if (user is null || user.Orgs.All(m => m.OrgId != orgId)) return false;
            user.Orgs = user.Orgs.Where(m => m.OrgId != orgId).ToList();
            session.Store(user);
            await AuditAsync(connection, orgId, actor, "member.removed", userId, new(), ct);
            return true;
        }, [userId], ct);

    // ---- tokens -----------------------------------------------------------------------------------------------

    public async Task<List<TokenRecord>> TokensOfAsync(string userId, CancellationToken ct)
    {
        await using var session = store.QuerySession();
        var tokens = await session.Query<AccessToken>().Where(t => t.UserId == userId && t.RevokedAt == null).ToListAsync(ct);
        return tokens.OrderByDescending(t => t.CreatedAt).ThenBy(t => t.Id, StringComparer.Ordinal).Select(t => t.ToRecord()).ToList();
    }

    public async Task<TokenRecord?> TokenAsync(string tokenId, CancellationToken ct)
    {
        await using var session = store.QuerySession();
        return (await session.LoadAsync<AccessToken>(tokenId, ct))?.ToRecord();
    }

    /// <summary>A new token for the user, or null when the user already has <see cref="MaxTokensPerUser"/> live tokens.</summary>
    public Task<(TokenRecord Token, string Plaintext)?> CreateTokenAsync(string userId, string name, DateTimeOffset? expiresAt,
        string? auditOrg, string actor, CancellationToken ct) =>
        InTransactionAsync<(TokenRecord, string)?>(async (session, connection) =>
        {
            // Serializes one user's creations, so that the cap holds under concurrent requests.
            await connection.ExecuteAsync("select pg_advisory_xact_lock(hashtext('everruns.tokens:' || $1))", ct, userId);
            var live = await session.Query<AccessToken>().CountAsync(t => t.UserId == userId && t.RevokedAt == null, ct);
            if (live >= MaxTokensPerUser) return null;
            var created = InsertToken(session, userId, name, expiresAt, null);
            await AuditAsync(connection, auditOrg, actor, "token.created", created.Token.Id, new() { ["user_id"] = userId, ["name"] = name }, ct);
            return created;
        }, [], ct);

    /// <summary>Revokes a live token: false when there is none with that id.</summary>
    public Task<bool> RevokeTokenAsync(string tokenId, string? auditOrg, string actor, CancellationToken ct) =>
        InTransactionAsync(async (session, connection) =>
        {
            var token = await session.LoadAsync<AccessToken>(tokenId, ct);
            if (token is null || token.RevokedAt is not null) return false;
            session.Patch<AccessToken>(tokenId).Set(t => t.RevokedAt, DateTimeOffset.UtcNow);
            await AuditAsync(connection, auditOrg, actor, "token.revoked", tokenId, new() { ["user_id"] = token.UserId }, ct);
            return true;
        }, [tokenId], ct);

    /// <summary>How many live tokens are hashed under the current secret, the previous one, and neither.</summary>
    public async Task<(long Current, long Previous, long Other)> TokenSecretsAsync(CancellationToken ct)
    {
        await using var session = store.QuerySession();
        var secrets = await session.Query<AccessToken>().Where(t => t.RevokedAt == null).Select(t => t.SecretId).ToListAsync(ct);
        long current = secrets.Count(s => s == _secretId), previous = secrets.Count(s => s == _previousSecretId);
        return (current, previous, secrets.Count - current - previous);
    }

    /// <summary>Revokes every live token not hashed under the current secret (the end of a rotation window).</summary>
    public Task<int> RevokeStaleSecretTokensAsync(string actor, CancellationToken ct) =>
        InTransactionAsync(async (session, connection) =>
        {
            var stale = await session.Query<AccessToken>().Where(t => t.RevokedAt == null && t.SecretId != _secretId).ToListAsync(ct);
            var now = DateTimeOffset.UtcNow;
            foreach (var token in stale) session.Patch<AccessToken>(token.Id).Set(t => t.RevokedAt, now);
            await AuditAsync(connection, null, actor, "secrets.api_key_rotated", null,
                new() { ["revoked_unmigrated_tokens"] = stale.Count.ToString() }, ct);
            return stale.Count;
        }, ["*"], ct);

    /// <summary>
    /// On an empty database: the default org, its admin (who also administers the deployment) and the admin's token,
    /// exactly once however many instances start together. Returns the token when this call created it.
    /// </summary>
    public async Task<string?> BootstrapAsync(string actor, CancellationToken ct)
    {
        await using var session = store.LightweightSession();
        await session.BeginTransactionAsync(ct);
        var connection = session.Connection!;
        await connection.ExecuteAsync("select pg_advisory_xact_lock(hashtext('everruns.identity.bootstrap'))", ct);
        if (await session.Query<User>().AnyAsync(ct)) return null;

        if (await session.LoadAsync<Org>(Tenancy.DefaultOrgId, ct) is null)
            session.Insert(new Org
            {
                Id = Tenancy.DefaultOrgId, Name = "Default", CreatedAt = DateTimeOffset.UtcNow, UpdatedAt = DateTimeOffset.UtcNow,
                OnboardingCompletedAt = DateTimeOffset.UtcNow, // seeded: nothing to set up
            });
        var (admin, token, plaintext) = InsertMember(session, Tenancy.DefaultOrgId, "admin", Caller.AdminRole, true, "bootstrap admin",
            options.BootstrapToken);
        await AuditAsync(connection, Tenancy.DefaultOrgId, actor, "identity.bootstrapped", admin.UserId, new() { ["token_id"] = token.Id }, ct);
        await session.SaveChangesAsync(ct);
        return plaintext;
    }

    private (TokenRecord Token, string Plaintext) InsertToken(IDocumentSession session, string userId, string name,
        DateTimeOffset? expiresAt, string? plaintext)
    {
        var token = plaintext ?? AccessTokens.New();
        var record = new AccessToken
        {
            Id = Guid.CreateVersion7().ToString(), UserId = userId, Name = name, TokenPrefix = AccessTokens.Display(token),
            Hash = AccessTokens.Hash(options.ApiKeySecret, token), SecretId = _secretId, CreatedAt = DateTimeOffset.UtcNow,
            ExpiresAt = expiresAt,
        };
        session.Insert(record);
        return (record.ToRecord(), token);
    }

    // ---- audit ------------------------------------------------------------------------------------------------

    public static Task AuditAsync(NpgsqlConnection connection, string? orgId, string actor, string action, string? target,
        Dictionary<string, string> details, CancellationToken ct) =>
        connection.ExecuteAsync("insert into everruns.audit_log (org_id, actor, action, target, details) values ($1, $2, $3, $4, $5::jsonb)",
            ct, orgId, actor, action, target, JsonSerializer.Serialize(details));

    // ---- plumbing ---------------------------------------------------------------------------------------------

    /// <summary>
    /// Runs <paramref name="work"/> in one transaction (Marten's session, and its connection for the audit log) that also
    /// announces <paramref name="changed"/>; evicts them here after commit. A user changed concurrently by another
    /// request (its version moved) is read and changed again.
    /// </summary>
    public async Task<T> InTransactionAsync<T>(Func<IDocumentSession, NpgsqlConnection, Task<T>> work, string[] changed, CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await using var session = store.LightweightSession();
                await session.BeginTransactionAsync(ct);
                var connection = session.Connection!;
                var result = await work(session, connection);
                foreach (var id in changed) await changes.AnnounceAsync(connection, id, ct);
                await session.SaveChangesAsync(ct);
                foreach (var id in changed) cache.Evict(id);
                return result;
            }
            catch (JasperFx.ConcurrencyException) when (attempt < 3)
            {
            }
        }
    }
}
