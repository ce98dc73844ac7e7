using System.Collections.Concurrent;
using Everruns.Contracts;
using Everruns.Infrastructure;
using Npgsql;

namespace Everruns.Modules.Identity;

/// <summary>
/// What a valid token stands for: its user, the user's orgs (id → role), and when it expires. Through a dashboard
/// session (<see cref="UiSessions"/>): also that session's id and its CSRF token.
/// </summary>
public sealed record TokenPrincipal(
    string TokenId, string UserId, bool SystemAdmin, IReadOnlyDictionary<string, string> Orgs, DateTimeOffset? ExpiresAt,
    string? SessionId = null, string? Csrf = null);

/// <summary>
/// Token lookups, cached per instance for TOKEN_CACHE_TTL_SECS, keyed by the token's hash (never the token).
/// Unknown tokens are cached too, so that a flood of bad tokens costs no queries. Changes made on any instance
/// evict entries everywhere through <see cref="IdentityChanges"/>.
/// Requests that miss the same token together share one lookup: when an entry expires under load, every request in
/// flight with that token misses at once, and each lookup stamps the token's row, so they would queue on its lock.
/// </summary>
public sealed class TokenCache(IdentityOptions options, TimeProvider clock)
{
    private const int MaxEntries = 50_000;
    private readonly ConcurrentDictionary<string, (TokenPrincipal? Principal, DateTimeOffset Until)> _entries = new();
    private readonly SingleFlight<TokenPrincipal?> _lookups = new();
    // Bumped by every eviction: a lookup that started before one neither fills the cache nor takes new callers.
    private long _generation;

    /// <summary>The cached principal of <paramref name="hash"/>, or the outcome of <paramref name="lookup"/>, run once for all who miss it together.</summary>
    public async Task<TokenPrincipal?> GetOrLookUpAsync(string hash, Func<Task<TokenPrincipal?>> lookup, CancellationToken ct)
    {
        if (TryGet(hash, out var cached)) return cached;
        var generation = Interlocked.Read(ref _generation);
        // Keyed by the evictions too: a caller after an eviction starts a lookup of its own.
        return await _lookups.RunAsync($"{hash}|{generation}", async () =>
        {
            EverrunsMetrics.TokenLookups.Add();
            var principal = await lookup();
            if (Interlocked.Read(ref _generation) == generation) Put(hash, principal);
            return principal;
        }).WaitAsync(ct);
    }

    private bool TryGet(string hash, out TokenPrincipal? principal)
    {
        principal = null;
        if (!_entries.TryGetValue(hash, out var entry)) return false;
        if (entry.Until <= clock.GetUtcNow())
        {
            _entries.TryRemove(new KeyValuePair<string, (TokenPrincipal?, DateTimeOffset)>(hash, entry));
            return false;
        }

        principal = entry.Principal;
        return true;
    }

    private void Put(string hash, TokenPrincipal? principal)
    {
        if (_entries.Count >= MaxEntries) _entries.Clear();
        _entries[hash] = (principal, clock.GetUtcNow() + options.TokenCacheTtl);
    }

    /// <summary>Drops every entry about a token, user or org id ("*": everything).</summary>
    public void Evict(string id)
    {
        Interlocked.Increment(ref _generation);
        if (id == "*")
        {
            _entries.Clear();
            return;
        }

        foreach (var (hash, entry) in _entries)
        {
            var p = entry.Principal;
            // Unknown tokens are dropped too: a token created elsewhere must not stay "unknown" here.
            if (p is null || p.TokenId == id || p.UserId == id || p.SessionId == id || p.Orgs.ContainsKey(id))
                _entries.TryRemove(hash, out _);
        }
    }
}

/// <summary>
/// The <c>identity_changed</c> channel: every change to tokens, users, memberships or orgs is announced (in its
/// transaction) with the sender's process id and the changed id; the other instances evict what they cached about
/// it. The sender evicts locally, so it ignores its own echo. After a reconnect everything is evicted, since
/// notifications may have been missed.
/// </summary>
public sealed class IdentityChanges(TokenCache cache, InstanceIdentity self) : NotificationListener(ChannelName)
{
    public const string ChannelName = "identity_changed";
    private static readonly string ProcessToken = Guid.NewGuid().ToString("N")[..8];

    public string Sender { get; } = $"{self.InstanceId}/{ProcessToken}";

    /// <summary>Announces a change, inside the caller's transaction (delivered when it commits).</summary>
    public async Task AnnounceAsync(NpgsqlConnection connection, string changedId, CancellationToken ct) =>
        await connection.ExecuteAsync("select pg_notify($1, $2)", ct, ChannelName, $"{Sender}|{changedId}");

    protected override void OnNotification(string payload)
    {
        var split = payload.IndexOf('|');
        if (split < 0) return;
        if (payload.AsSpan(0, split).SequenceEqual(Sender)) return; // our own change: evicted already
        cache.Evict(payload[(split + 1)..]);
    }

    protected override Task OnListeningAsync(CancellationToken ct)
    {
        cache.Evict("*");
        return Task.CompletedTask;
    }
}
