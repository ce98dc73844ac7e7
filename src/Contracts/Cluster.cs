namespace Everruns.Contracts;

/// <summary>Who this process is in the cluster (from INSTANCE_ID and EXPECTED_INSTANCES), for modules that need it.</summary>
public sealed record InstanceIdentity(string InstanceId, int ExpectedInstances, string Version);

// Maintenance jobs. The Cluster module's singular agent (one node at a time, moved by Wolverine's leader when
// that node dies) asks the module that owns the data to do each job, and records the outcome.

/// <summary>Fail turns that stopped making progress (no heartbeat for <paramref name="StaleAfter"/>), so their session moves on.</summary>
public sealed record ReapStaleTurns(TimeSpan StaleAfter);

/// <summary>Move on the turns that waited too long for their client's tool results (each with a timeout error result).</summary>
public sealed record ExpireToolWaits;

/// <summary>Purge sessions deleted more than <paramref name="Retention"/> ago: document, turn state, events.</summary>
public sealed record PurgeDeletedSessions(TimeSpan Retention);

/// <summary>Published for each purged session: the owners of its other data delete it too.</summary>
public sealed record SessionPurged(string SessionId);

/// <summary>Roll the event store up into per-minute counts by event type, keeping <paramref name="Retention"/> of them.</summary>
public sealed record RollUpMetrics(TimeSpan Retention);

/// <summary>What a maintenance job did.</summary>
public sealed record MaintenanceDone(long Affected);

/// <summary>SHUTDOWN_GRACE_SECS: on SIGTERM, how long in-flight turns may run on before being handed on.</summary>
public sealed record ShutdownSettings(TimeSpan Grace);

/// <summary>Forget the responses kept for Idempotency-Key retries once they are older than <paramref name="Retention"/>.</summary>
public sealed record PurgeIdempotencyKeys(TimeSpan Retention);
