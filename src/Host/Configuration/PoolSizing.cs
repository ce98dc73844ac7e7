namespace Everruns.Host.Configuration;

public static class PoolSizing
{
    /// <summary>
    /// The warning to log when every instance's full pool together would take more than 80% of the
    /// server's connections (leaving too little for migrations, LISTEN connections and operators); null when sizing is fine.
    /// </summary>
    public static string? Warning(EverrunsOptions options)
    {
        var total = (long)options.DatabasePoolMax * options.ExpectedInstances;
        var budget = options.PgMaxConnections * 0.8;
        if (total <= budget) return null;
        return $"Connection pool oversubscribed: DATABASE_POOL_MAX ({options.DatabasePoolMax}) x EXPECTED_INSTANCES " +
               $"({options.ExpectedInstances}) = {total} exceeds 80% of PG_MAX_CONNECTIONS ({options.PgMaxConnections}) = {budget:0}. " +
               "Lower DATABASE_POOL_MAX or raise max_connections on the server.";
    }
}
