using Everruns.Contracts;
using Everruns.Infrastructure;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Wolverine;

namespace Everruns.Modules.Execution;

/// <summary>
/// Turn steps an instance gave up while shutting down wait in <c>everruns.turn_handoffs</c>; the insert notifies
/// <c>task_available</c>, which wakes the other instances at once; the first to claim the row (<c>FOR UPDATE SKIP
/// LOCKED</c>) runs the step. A slow poll (TASK_POLL_SECS) covers a notification lost while a listener reconnected.
/// </summary>
public static class HandOff
{
    public const string Channel = "task_available";

    /// <summary>This process (an instance restarted under the same INSTANCE_ID is another process and may claim).</summary>
    public static string Process(InstanceIdentity self) => $"{self.InstanceId}/{ProcessToken}";

    private static readonly string ProcessToken = Guid.NewGuid().ToString("N")[..8];

    /// <summary>Queues the step for another instance, in the caller's transaction.</summary>
    public static void Enqueue(IDocumentSession documents, RunTurnStep step, InstanceIdentity self) =>
        documents.QueueSqlCommand(
            "insert into everruns.turn_handoffs (session_id, turn_id, iteration, from_instance) values (?, ?, ?, ?) " +
            "on conflict (session_id) do update set turn_id = excluded.turn_id, iteration = excluded.iteration, " +
            "from_instance = excluded.from_instance, handed_at = now()",
            step.SessionId, step.TurnId, step.Iteration, Process(self));

    public static IEnumerable<string> SchemaSql =>
    [
        """
        create table if not exists everruns.turn_handoffs (
            session_id text primary key,
            turn_id text not null,
            iteration int not null,
            from_instance text not null,
            handed_at timestamptz not null default now()
        );
        create or replace function everruns.notify_task_available() returns trigger language plpgsql as $$
        begin
            perform pg_notify('task_available', new.session_id);
            return null;
        end $$;
        create or replace trigger trg_task_available after insert or update on everruns.turn_handoffs
            for each row execute function everruns.notify_task_available();
        """,
    ];
}

/// <summary>Claims handed-off steps (not this instance's own) and runs them here.</summary>
public sealed record ClaimHandedOffSteps;

public static class ClaimHandedOffStepsHandler
{
    public static async Task<OutgoingMessages> Handle(ClaimHandedOffSteps claim, IDocumentSession documents, InstanceIdentity self,
        IHostApplicationLifetime lifetime, ILogger<ClaimHandedOffSteps> logger, CancellationToken ct)
    {
        var next = new OutgoingMessages();
        if (lifetime.ApplicationStopping.IsCancellationRequested) return next; // a stopping instance takes nothing on

        await documents.BeginTransactionAsync(ct);
        await using var cmd = documents.Connection!.CreateCommand();
        cmd.CommandText = """
            delete from everruns.turn_handoffs where session_id in (
                select session_id from everruns.turn_handoffs where from_instance <> @self
                order by handed_at for update skip locked limit 20)
            returning session_id, turn_id, iteration
            """;
        var self_ = cmd.CreateParameter();
        self_.ParameterName = "self";
        self_.Value = HandOff.Process(self);
        cmd.Parameters.Add(self_);
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                var step = new RunTurnStep(reader.GetString(0), reader.GetString(1), reader.GetInt32(2));
                logger.LogInformation("Claimed hand-off of turn {TurnId} of {SessionId}", step.TurnId, step.SessionId);
                next.Add(step);
            }
        }

        return next;
    }
}

/// <summary>LISTEN <c>task_available</c>: claim handed-off steps when notified, after reconnecting, and every TASK_POLL_SECS.</summary>
public sealed class TaskListener(IServiceProvider services, TaskListenerOptions options, ILogger<TaskListener> logger)
    : NotificationListener(HandOff.Channel)
{
    private readonly Wakeup _wake = new();

    protected override void OnNotification(string payload) => _wake.Pulse();

    protected override Task OnListeningAsync(CancellationToken ct)
    {
        _wake.Pulse();
        return Task.CompletedTask;
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.Run(() => ClaimLoopAsync(stoppingToken), CancellationToken.None);

    private async Task ClaimLoopAsync(CancellationToken ct)
    {
        // Wolverine runs messages only once the host has started, after this service: a first claim before that
        // failed, and steps handed off while no instance ran (a lone instance restarting) waited for the next poll.
        try
        {
            await WhenStartedAsync(services.GetRequiredService<IHostApplicationLifetime>(), ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            return;
        }

        while (!ct.IsCancellationRequested)
        {
            try
            {
                await _wake.WaitAsync(options.Poll, ct);
                if (ct.IsCancellationRequested) return;
                await using var scope = services.CreateAsyncScope();
                await scope.ServiceProvider.GetRequiredService<IMessageBus>().InvokeAsync(new ClaimHandedOffSteps(), ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                logger.LogWarning("Claiming handed-off turn steps failed: {Error}", e.Message);
            }
        }
    }

    private static async Task WhenStartedAsync(IHostApplicationLifetime lifetime, CancellationToken ct)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var _ = lifetime.ApplicationStarted.Register(() => started.TrySetResult());
        await started.Task.WaitAsync(ct);
    }
}

public sealed record TaskListenerOptions(TimeSpan Poll);
