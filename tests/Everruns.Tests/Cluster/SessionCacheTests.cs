using System.Diagnostics;
using System.Net;
using Everruns.Contracts;
using Everruns.Modules.Sessions;
using Everruns.Tests.Infrastructure;

namespace Everruns.Tests.Cluster;

/// <summary>The per-instance cache of session lookups (<see cref="SessionCache"/>): served while it can be trusted.</summary>
public sealed class SessionCacheTests
{
    [Fact]
    public async Task a_session_deleted_on_one_instance_is_refused_within_two_seconds_by_another_that_had_it_cached()
    {
        await using var database = await TestDatabase.CreateAsync("everruns_session_cache");
        await using var a = HostProcess.Start(database.Url, new Dictionary<string, string> { ["INSTANCE_ID"] = "cache-a" });
        await using var b = HostProcess.Start(database.Url, new Dictionary<string, string> { ["INSTANCE_ID"] = "cache-b" });
        await Task.WhenAll(a.WaitUntilReadyAsync(), b.WaitUntilReadyAsync());
        var onA = new ApiClient(a.Http);
        var onB = new ApiClient(b.Http);

        var sessionId = (string)(await onA.CreateSessionAsync())["id"]!;
        await onB.PostMessageAsync(sessionId, "cached on B now"); // B looked the session up, and keeps it for a minute
        await onB.WaitForTurnsAsync(sessionId);

        var deleted = Stopwatch.StartNew();
        (await onA.DeleteAsync($"/v1/sessions/{sessionId}")).Status.ShouldBe(HttpStatusCode.NoContent);
        await Eventually.Until(async () =>
            (await onB.PostAsync($"/v1/sessions/{sessionId}/messages", new { message = new { role = "user", content = "still there?" } })).Status
            == HttpStatusCode.NotFound, TimeSpan.FromSeconds(10));
        deleted.Elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(2));
        (await onB.GetAsync($"/v1/sessions/{sessionId}/sse")).ShouldBeProblem(HttpStatusCode.NotFound, "session_not_found");
    }

    [Fact]
    public async Task lookups_are_served_from_the_cache_only_while_the_instance_listens_for_deletions()
    {
        await using var database = await TestDatabase.CreateAsync("everruns_session_cache_deaf");
        await using var host = await TestHost.StartAsync(database.Url);
        var api = new ApiClient(host.Server.CreateClient());
        var sessionId = (string)(await api.CreateSessionAsync())["id"]!;
        await api.PostMessageAsync(sessionId, "first");
        await api.WaitForTurnsAsync(sessionId);

        // Gone behind the server's back (no announcement): the cached lookup still answers.
        await PostgresServer.ExecuteAsync(database.Url, $"delete from everruns.mt_doc_session where id = '{sessionId}'");
        var message = new { message = new { role = "user", content = "from the cache" } };
        (await api.PostAsync($"/v1/sessions/{sessionId}/messages", message)).Status.ShouldBe(HttpStatusCode.Created);

        // The instance's LISTEN connection drops: deletions could be missed, so nothing cached is served any more.
        await PostgresServer.ExecuteAsync(database.Url,
            "select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and application_name like '%-listen'");
        await Eventually.Until(async () =>
            (await api.PostAsync($"/v1/sessions/{sessionId}/messages", message)).Status == HttpStatusCode.NotFound, TimeSpan.FromSeconds(10));
    }

    [Fact]
    public void a_lookup_read_before_an_eviction_is_not_cached_after_it()
    {
        var cache = new SessionCache(TimeProvider.System);
        var found = new SessionFound(new SessionRef("session_1", "org_1"));
        cache.Put("session_1", found, cache.Evictions);
        cache.Get("session_1").ShouldBeNull(); // not listening yet: nothing is kept

        cache.Listening();
        var before = cache.Evictions;
        cache.Evict("session_1"); // deleted while the lookup's query ran
        cache.Put("session_1", found, before);
        cache.Get("session_1").ShouldBeNull();

        cache.Put("session_1", found, cache.Evictions);
        cache.Get("session_1").ShouldBe(found);
        cache.Deaf();
        cache.Get("session_1").ShouldBeNull();
    }
}
