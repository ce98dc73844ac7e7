using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using Everruns.Tests.Infrastructure;

namespace Everruns.Tests.Operations;

/// <summary>The ops scripts, run as an operator runs them, against a real database.</summary>
public sealed class OpsScriptTests
{
    private const string EventsSql =
        "select coalesce(string_agg(stream_id || '|' || version || '|' || data::text, E'\\n' order by seq_id), '') from everruns.mt_events";

    [Fact]
    public async Task backup_then_restore_reproduces_every_sessions_events_byte_for_byte()
    {
        await using var database = await TestDatabase.CreateAsync("everruns_backup");
        var url = database.Url;
        var dir = Directory.CreateTempSubdirectory("everruns-backups").FullName;
        try
        {
            await using (var host = await TestHost.StartAsync(url))
            {
                var api = new ApiClient(host.Server.CreateClient());
                foreach (var text in new[] { "first session", "second session" })
                {
                    var sessionId = (string)(await api.CreateSessionAsync())["id"]!;
                    await api.PostMessageAsync(sessionId, text);
                    await api.WaitForTurnsAsync(sessionId);
                }
            }

            var before = await PostgresServer.ScalarAsync<string>(url, EventsSql);
            before.ShouldNotBeEmpty();

            var backups = new List<string>();
            for (var i = 0; i < 3; i++)
            {
                var backup = await RunAsync("backup", url, "--dir", dir, "--keep", "2");
                backup.ExitCode.ShouldBe(0, backup.Output);
                backups.Add(backup.Output.Trim().Split('\n').Last());
                await Task.Delay(1100); // archives are named by the second
            }

            // Retention: only the newest two remain, and the archive holds the dump and its manifest.
            Directory.GetFiles(dir, "everruns-*.tar.gz").Order().ShouldBe(backups.Skip(1).Order());
            EntriesOf(backups.Last()).ShouldBe(["everruns.dump", "manifest"], ignoreOrder: true);

            // Damage the data, then restore.
            await PostgresServer.ExecuteAsync(url, "delete from everruns.mt_events where version > 2; delete from everruns.mt_doc_session");
            (await PostgresServer.ScalarAsync<string>(url, EventsSql)).ShouldNotBe(before);

            var restore = await RunAsync("restore", url, backups.Last(), "--non-interactive");
            restore.ExitCode.ShouldBe(0, restore.Output);
            restore.Output.ShouldContain("preflight passed");
            (await PostgresServer.ScalarAsync<string>(url, EventsSql)).ShouldBe(before);
            (await PostgresServer.ScalarAsync<long>(url, "select count(*) from everruns.mt_doc_session")).ShouldBe(2);

            var missing = await RunAsync("restore", url, Path.Combine(dir, "nope.tar.gz"), "--non-interactive");
            missing.ExitCode.ShouldNotBe(0);
            missing.Output.ShouldContain("no such archive");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task restore_refuses_while_instances_are_connected()
    {
        await using var database = await TestDatabase.CreateAsync("everruns_busy");
        var url = database.Url;
        var dir = Directory.CreateTempSubdirectory("everruns-backups").FullName;
        try
        {
            await using var host = await TestHost.StartAsync(url);
            var backup = await RunAsync("backup", url, "--dir", dir);
            backup.ExitCode.ShouldBe(0, backup.Output);
            var refused = await RunAsync("restore", url, backup.Output.Trim().Split('\n').Last(), "--non-interactive");
            refused.ExitCode.ShouldNotBe(0);
            refused.Output.ShouldContain("stop the instances first");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task the_support_bundle_collects_state_and_redacts_every_secret()
    {
        await using var database = await TestDatabase.CreateAsync("everruns_bundle");
        var url = database.Url;
        var dir = Directory.CreateTempSubdirectory("everruns-bundles").FullName;
        try
        {
            var withPassword = new UriBuilder(url) { UserName = "postgres", Password = "pw-Zq81-bundle" }.Uri.ToString();
            (await HostProcess.RunVerbAsync(url, "migrate")).ExitCode.ShouldBe(0);
            var result = await RunAsync("support-bundle", withPassword, new Dictionary<string, string>
            {
                ["OPENAI_API_KEY"] = "sk-Zq81-bundle", ["OPENAI_MODELS"] = "m1",
            }, "--out", dir, "--url", "http://127.0.0.1:1");
            result.ExitCode.ShouldBe(0, result.Output);
            var archive = result.Output.Trim().Split('\n').Last();

            var files = ReadAll(archive);
            files.Keys.ShouldContain("bundle/version.txt");
            files.Keys.ShouldContain("bundle/config.env");
            files["bundle/config.env"].ShouldContain("OPENAI_API_KEY=***");
            files["bundle/config.env"].ShouldContain("OPENAI_MODELS=m1");
            files["bundle/config.env"].ShouldContain("DATABASE_URL=postgres://postgres:***@");
            files["bundle/database.txt"].ShouldContain("marten,wolverine"); // the migration ledger
            files["bundle/health.txt"].ShouldContain("unreachable"); // nothing listens on the --url given
            foreach (var (name, text) in files)
            {
                text.ShouldNotContain("pw-Zq81-bundle", customMessage: name);
                text.ShouldNotContain("sk-Zq81-bundle", customMessage: name);
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static Task<(int ExitCode, string Output)> RunAsync(string script, string databaseUrl, params string[] args) =>
        RunAsync(script, databaseUrl, null, args);

    /// <summary>Runs ops/&lt;script&gt; with bash, pointing it at the host build the tests use.</summary>
    private static async Task<(int ExitCode, string Output)> RunAsync(string script, string databaseUrl,
        IDictionary<string, string>? environment, params string[] args)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        start.ArgumentList.Add(Path.Combine(PostgresServer.RepositoryRoot, "ops", script));
        foreach (var arg in args) start.ArgumentList.Add(arg);
        start.Environment["DATABASE_URL"] = databaseUrl;
        start.Environment["EVERRUNS_HOST_DLL"] = HostProcess.HostDll;
        start.Environment["LOG_FORMAT"] = "simple";
        foreach (var (key, value) in TestAuth.Settings(environment)) start.Environment[key] = value;
        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }

    private static List<string> EntriesOf(string archive) => ReadAll(archive).Keys.Select(Path.GetFileName).OfType<string>().ToList();

    private static Dictionary<string, string> ReadAll(string archive)
    {
        using var file = File.OpenRead(archive);
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        using var tar = new TarReader(gzip);
        var files = new Dictionary<string, string>();
        while (tar.GetNextEntry() is { } entry)
        {
            if (entry.DataStream is null) continue;
            using var reader = new StreamReader(entry.DataStream);
            files[entry.Name.TrimStart('.', '/')] = reader.ReadToEnd();
        }

        return files;
    }
}
