using System.Text.Json;
using Everruns.Contracts;
using Npgsql;

namespace Everruns.Modules.Identity;

public sealed record OrgRecord(string Id, string Name, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

public sealed record TokenRecord(
    string Id, string UserId, string Name, string TokenPrefix, string[] Scopes, DateTimeOffset CreatedAt,
    DateTimeOffset? ExpiresAt, DateTimeOffset? LastUsedAt, DateTimeOffset? RevokedAt);

public sealed record MemberRecord(string UserId, string Name, string Role, DateTimeOffset CreatedAt);

/// <summary>
/// Orgs, users, memberships and tokens in PostgreSQL. Every change runs in one transaction with its audit entry and
/// its <c>identity_changed</c> announcement, then evicts this instance's cache.
/// </summary>
public sealed class IdentityStore(NpgsqlDataSource dataSource, IdentityOptions options, TokenCache cache, IdentityChanges changes)
{
    public const int MaxTokensPerUser = 100;
    private readonly string _secretId = AccessTokens.SecretId(options.ApiKeySecret);
    private readonly string? _previousSecretId = options.ApiKeySecretPrevious is { } p ? AccessTokens.SecretId(p) : null;

    public string CurrentSecretId => _secretId;
    public string? PreviousSecretId => _previousSecretId;

    /// <summary>The principal of a well-formed token (check <see cref="TokenPrincipal.ExpiresAt"/>), or null when it is unknown or revoked.</summary>
    public async Task<TokenPrincipal?> ResolveAsync(string token, CancellationToken ct)
    {
        var hash = AccessTokens.Hash(options.ApiKeySecret, token);
        return await cache.GetOrLookUpAsync(hash, () => LoadAsync(token, hash, CancellationToken.None), ct);
    }

    private async Task<TokenPrincipal?> LoadAsync(string token, string hash, CancellationToken ct)
    {
        var previousHash = options.ApiKeySecretPrevious is { } previous ? AccessTokens.Hash(previous, token) : null;
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        // One round trip: find the live token under either secret and stamp its use.
        var rows = await connection.ListAsync("""
            with hit as (
                update everruns.access_tokens set last_used_at = now()
                where hash = any($1) and revoked_at is null
                returning id, user_id, hash, expires_at)
            select hit.id, hit.user_id, hit.hash, hit.expires_at, u.system_admin, m.org_id, m.role
            from hit join everruns.users u on u.id = hit.user_id
            left join everruns.org_members m on m.user_id = hit.user_id
            """,
            r => (TokenId: r.GetString(0), UserId: r.GetString(1), Hash: r.GetString(2), Expires: r.NullableTime(3),
                SystemAdmin: r.GetBoolean(4), Org: r.NullableString(5), Role: r.NullableString(6)),
            ct, (object)(previousHash is null ? new[] { hash } : new[] { hash, previousHash }));
        if (rows.Count == 0) return null;

        var first = rows[0];
        if (first.Hash != hash)
        {
            // Hashed under API_KEY_SECRET_PREVIOUS: re-hash under the current secret now that the token is at hand.
            await connection.ExecuteAsync("update everruns.access_tokens set hash = $1, secret_id = $2 where id = $3 and hash = $4", ct,
                hash, _secretId, first.TokenId, first.Hash);
        }

        var orgs = rows.Where(r => r.Org is not null).ToDictionary(r => r.Org!, r => r.Role!);
        return new TokenPrincipal(first.TokenId, first.UserId, first.SystemAdmin, orgs, first.Expires);
    }

    // ---- orgs -------------------------------------------------------------------------------------------------

    /// <summary>The user's orgs, each with the user's role there.</summary>
    public async Task<List<(OrgRecord Org, string Role)>> OrgsOfAsync(string userId, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        return await connection.ListAsync("""
            select o.id, o.name, o.created_at, o.updated_at, m.role from everruns.orgs o
            join everruns.org_members m on m.org_id = o.id where m.user_id = $1 order by o.created_at, o.id
            """, r => (ReadOrg(r), r.GetString(4)), ct, userId);
    }

    public async Task<OrgRecord?> OrgAsync(string orgId, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        return (await connection.ListAsync("select id, name, created_at, updated_at from everruns.orgs where id = $1", ReadOrg, ct, orgId))
            .FirstOrDefault();
    }

    /// <summary>A new, empty org (its first admin is added as a member next).</summary>
    public Task<OrgRecord> CreateOrgAsync(string name, string actor, CancellationToken ct) =>
        InTransactionAsync(connection => InsertOrgAsync(connection, Ids.New(Ids.Org), name, actor, ct), [], ct);

    /// <summary>A new org with a new admin user and that user's first token, in one transaction (the CLI's <c>orgs create</c>).</summary>
    public Task<(MemberRecord Member, TokenRecord Token, string Plaintext)> CreateOrgWithAdminAsync(string orgId, string name,
        string actor, CancellationToken ct) =>
        InTransactionAsync(async connection =>
        {
            await InsertOrgAsync(connection, orgId, name, actor, ct);
            return await NewMemberAsync(connection, orgId, $"{name} admin", Caller.AdminRole, actor, ct);
        }, [orgId], ct);

    private static async Task<OrgRecord> InsertOrgAsync(NpgsqlConnection connection, string id, string name, string actor, CancellationToken ct)
    {
        var org = (await connection.ListAsync("""
            insert into everruns.orgs (id, name) values ($1, $2) returning id, name, created_at, updated_at
            """, ReadOrg, ct, id, name)).Single();
        await AuditAsync(connection, org.Id, actor, "org.created", org.Id, new() { ["name"] = name }, ct);
        return org;
    }

    public Task<OrgRecord?> RenameOrgAsync(string orgId, string name, string actor, CancellationToken ct) =>
        InTransactionAsync(async connection =>
        {
            var org = (await connection.ListAsync("""
                update everruns.orgs set name = $2, updated_at = now() where id = $1 returning id, name, created_at, updated_at
                """, ReadOrg, ct, orgId, name)).FirstOrDefault();
            if (org is not null)
                await AuditAsync(connection, org.Id, actor, "org.updated", org.Id, new() { ["name"] = name }, ct);
            return org;
        }, [orgId], ct);

    /// <summary>The user's role in the org, read now (membership checks of org management do not trust the cache); null when not a member.</summary>
    public async Task<string?> RoleAsync(string userId, string orgId, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        return await connection.ScalarAsync<string>("select role from everruns.org_members where user_id = $1 and org_id = $2", ct,
            userId, orgId);
    }

    // ---- users and members ------------------------------------------------------------------------------------

    public async Task<List<MemberRecord>> MembersAsync(string orgId, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        return await connection.ListAsync("""
            select u.id, u.name, m.role, m.created_at from everruns.org_members m join everruns.users u on u.id = m.user_id
            where m.org_id = $1 order by m.created_at, u.id
            """, r => new MemberRecord(r.GetString(0), r.GetString(1), r.GetString(2), r.Time(3)), ct, orgId);
    }

    /// <summary>A new user in the org with a first token (the plaintext is returned once).</summary>
    public Task<(MemberRecord Member, TokenRecord Token, string Plaintext)> CreateMemberAsync(string orgId, string name, string role,
        string actor, CancellationToken ct) =>
        InTransactionAsync(connection => NewMemberAsync(connection, orgId, name, role, actor, ct), [orgId], ct);

    /// <summary>A new member with a first token, audited, in the caller's transaction.</summary>
    private async Task<(MemberRecord Member, TokenRecord Token, string Plaintext)> NewMemberAsync(NpgsqlConnection connection,
        string orgId, string name, string role, string actor, CancellationToken ct)
    {
        var created = await InsertMemberAsync(connection, orgId, name, role, false, $"{name} (first token)", null, ct);
        var userId = created.Member.UserId;
        await AuditAsync(connection, orgId, actor, "member.added", userId, new() { ["role"] = role, ["name"] = name }, ct);
        await AuditAsync(connection, orgId, actor, "token.created", created.Token.Id, new() { ["user_id"] = userId }, ct);
        return created;
    }

    /// <summary>A user, their membership of the org and a first token, in the caller's transaction (unaudited).</summary>
    private async Task<(MemberRecord Member, TokenRecord Token, string Plaintext)> InsertMemberAsync(NpgsqlConnection connection,
        string orgId, string name, string role, bool systemAdmin, string tokenName, string? plaintext, CancellationToken ct)
    {
        var userId = Ids.New(Ids.User);
        await connection.ExecuteAsync("insert into everruns.users (id, name, system_admin) values ($1, $2, $3)", ct, userId, name, systemAdmin);
        var joined = (await connection.ListAsync("""
            insert into everruns.org_members (org_id, user_id, role) values ($1, $2, $3) returning created_at
            """, r => r.Time(0), ct, orgId, userId, role)).Single();
        var (token, secret) = await InsertTokenAsync(connection, userId, tokenName, null, plaintext, ct);
        return (new MemberRecord(userId, name, role, joined), token, secret);
    }

    /// <summary>Adds an existing user to the org, or changes their role. False when the user does not exist.</summary>
    public Task<bool> SetMemberAsync(string orgId, string userId, string role, string actor, CancellationToken ct) =>
        InTransactionAsync(async connection =>
        {
            if (await connection.ScalarAsync<string>("select id from everruns.users where id = $1", ct, userId) is null) return false;
            await connection.ExecuteAsync("""
                insert into everruns.org_members (org_id, user_id, role) values ($1, $2, $3)
                on conflict (org_id, user_id) do update set role = excluded.role
                """, ct, orgId, userId, role);
            await AuditAsync(connection, orgId, actor, "member.added", userId, new() { ["role"] = role }, ct);
            return true;
        }, [userId], ct);

    public Task<bool> RemoveMemberAsync(string orgId, string userId, string actor, CancellationToken ct) =>
        InTransactionAsync(async connection =>
        {
            var removed = await connection.ExecuteAsync("delete from everruns.org_members where org_id = $1 and user_id = $2", ct, orgId, userId);
            if (removed > 0) await AuditAsync(connection, orgId, actor, "member.removed", userId, new(), ct);
            return removed > 0;
        }, [userId], ct);

    // ---- tokens -----------------------------------------------------------------------------------------------

    public async Task<List<TokenRecord>> TokensOfAsync(string userId, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        return await connection.ListAsync($"{TokenColumns} where user_id = $1 and revoked_at is null order by created_at desc, id",
            ReadToken, ct, userId);
    }

    public async Task<TokenRecord?> TokenAsync(string tokenId, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        return (await connection.ListAsync($"{TokenColumns} where id = $1", ReadToken, ct, tokenId)).FirstOrDefault();
    }

    /// <summary>A new token for the user, or null when the user already has <see cref="MaxTokensPerUser"/> live tokens.</summary>
    public Task<(TokenRecord Token, string Plaintext)?> CreateTokenAsync(string userId, string name, DateTimeOffset? expiresAt,
        string? auditOrg, string actor, CancellationToken ct) =>
        InTransactionAsync<(TokenRecord, string)?>(async connection =>
        {
            // Serializes one user's creations, so that the cap holds under concurrent requests.
            await connection.ExecuteAsync("select pg_advisory_xact_lock(hashtext('everruns.tokens:' || $1))", ct, userId);
            var live = await connection.ScalarAsync<long>(
                "select count(*) from everruns.access_tokens where user_id = $1 and revoked_at is null", ct, userId);
            if (live >= MaxTokensPerUser) return null;
            var created = await InsertTokenAsync(connection, userId, name, expiresAt, null, ct);
            await AuditAsync(connection, auditOrg, actor, "token.created", created.Token.Id, new() { ["user_id"] = userId, ["name"] = name }, ct);
            return created;
        }, [], ct);

    /// <summary>Revokes a live token: false when there is none with that id.</summary>
    public Task<bool> RevokeTokenAsync(string tokenId, string? auditOrg, string actor, CancellationToken ct) =>
        InTransactionAsync(async connection =>
        {
            var userId = await connection.ScalarAsync<string>(
                "update everruns.access_tokens set revoked_at = now() where id = $1 and revoked_at is null returning user_id", ct, tokenId);
            if (userId is null) return false;
            await AuditAsync(connection, auditOrg, actor, "token.revoked", tokenId, new() { ["user_id"] = userId }, ct);
            return true;
        }, [tokenId], ct);

    /// <summary>How many live tokens are hashed under the current secret, the previous one, and neither.</summary>
    public async Task<(long Current, long Previous, long Other)> TokenSecretsAsync(CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        var counts = await connection.ListAsync(
            "select secret_id, count(*) from everruns.access_tokens where revoked_at is null group by secret_id",
            r => (r.GetString(0), r.GetInt64(1)), ct);
        long current = 0, previous = 0, other = 0;
        foreach (var (secret, count) in counts)
        {
            if (secret == _secretId) current += count;
            else if (secret == _previousSecretId) previous += count;
            else other += count;
        }

        return (current, previous, other);
    }

    /// <summary>Revokes every live token not hashed under the current secret (the end of a rotation window).</summary>
    public Task<int> RevokeStaleSecretTokensAsync(string actor, CancellationToken ct) =>
        InTransactionAsync(async connection =>
        {
            var revoked = await connection.ExecuteAsync(
                "update everruns.access_tokens set revoked_at = now() where revoked_at is null and secret_id <> $1", ct, _secretId);
            await AuditAsync(connection, null, actor, "secrets.api_key_rotated", null,
                new() { ["revoked_unmigrated_tokens"] = revoked.ToString() }, ct);
            return revoked;
        }, ["*"], ct);

    /// <summary>
    /// On an empty database: the default org, its admin (who also administers the deployment) and the admin's token,
    /// exactly once however many instances start together. Returns the token when this call created it.
    /// </summary>
    public async Task<string?> BootstrapAsync(string actor, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await connection.ExecuteAsync("select pg_advisory_xact_lock(hashtext('everruns.identity.bootstrap'))", ct);
        if (await connection.ScalarAsync<bool>("select exists (select 1 from everruns.users)", ct)) return null;

        await connection.ExecuteAsync("insert into everruns.orgs (id, name) values ($1, 'Default') on conflict (id) do nothing", ct,
            Tenancy.DefaultOrgId);
        var (admin, token, plaintext) = await InsertMemberAsync(connection, Tenancy.DefaultOrgId, "admin", Caller.AdminRole, true,
            "bootstrap admin", options.BootstrapToken, ct);
        await AuditAsync(connection, Tenancy.DefaultOrgId, actor, "identity.bootstrapped", admin.UserId, new() { ["token_id"] = token.Id }, ct);
        await transaction.CommitAsync(ct);
        return plaintext;
    }

    private async Task<(TokenRecord Token, string Plaintext)> InsertTokenAsync(NpgsqlConnection connection, string userId, string name,
        DateTimeOffset? expiresAt, string? plaintext, CancellationToken ct)
    {
        var token = plaintext ?? AccessTokens.New();
        var record = (await connection.ListAsync($"""
            insert into everruns.access_tokens (id, user_id, name, token_prefix, hash, secret_id, expires_at)
            values ($1, $2, $3, $4, $5, $6, $7)
            returning {TokenFields}
            """, ReadToken, ct, Guid.CreateVersion7().ToString(), userId, name, AccessTokens.Display(token),
            AccessTokens.Hash(options.ApiKeySecret, token), _secretId, expiresAt)).Single();
        return (record, token);
    }

    // ---- audit ------------------------------------------------------------------------------------------------

    public static Task AuditAsync(NpgsqlConnection connection, string? orgId, string actor, string action, string? target,
        Dictionary<string, string> details, CancellationToken ct) =>
        connection.ExecuteAsync("insert into everruns.audit_log (org_id, actor, action, target, details) values ($1, $2, $3, $4, $5::jsonb)",
            ct, orgId, actor, action, target, JsonSerializer.Serialize(details));

    // ---- plumbing ---------------------------------------------------------------------------------------------

    /// <summary>Runs <paramref name="work"/> in a transaction that also announces <paramref name="changed"/>; evicts them here after commit.</summary>
    public async Task<T> InTransactionAsync<T>(Func<NpgsqlConnection, Task<T>> work, string[] changed, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        var result = await work(connection);
        foreach (var id in changed) await changes.AnnounceAsync(connection, id, ct);
        await transaction.CommitAsync(ct);
        foreach (var id in changed) cache.Evict(id);
        return result;
    }

    private const string TokenFields = "id, user_id, name, token_prefix, scopes, created_at, expires_at, last_used_at, revoked_at";
    private const string TokenColumns = $"select {TokenFields} from everruns.access_tokens";

    private static OrgRecord ReadOrg(NpgsqlDataReader r) => new(r.GetString(0), r.GetString(1), r.Time(2), r.Time(3));

    private static TokenRecord ReadToken(NpgsqlDataReader r) => new(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3),
        r.GetFieldValue<string[]>(4), r.Time(5), r.NullableTime(6), r.NullableTime(7), r.NullableTime(8));
}
