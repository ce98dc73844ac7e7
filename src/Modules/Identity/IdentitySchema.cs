using Weasel.Core;
using Weasel.Postgresql.Functions;
using Weasel.Postgresql.Tables;
using Weasel.Postgresql.Triggers;

namespace Everruns.Modules.Identity;

/// <summary>
/// The audit log (append-only) and the rate-limit counters: tables beside Identity's documents, declared to Marten, which
/// creates and migrates them with its own schema (see the host's SchemaMigrator).
/// </summary>
public static class IdentitySchema
{
    public static IEnumerable<ISchemaObject> Objects()
    {
        var audit = new Table("everruns.audit_log");
        audit.AddColumn("id", "bigint").AsPrimaryKey().BigAutoIncrement();
        audit.AddColumn("at", "timestamptz").NotNull().DefaultValueByExpression("now()");
        audit.AddColumn("org_id", "text");
        audit.AddColumn("actor", "text").NotNull();
        audit.AddColumn("action", "text").NotNull();
        audit.AddColumn("target", "text");
        audit.AddColumn("details", "jsonb").NotNull().DefaultValueByExpression("'{}'");
        audit.Indexes.Add(new IndexDefinition("ix_audit_log_org") { Columns = ["org_id", "id"] });
        // Written as PostgreSQL shows it back (pg_get_functiondef): Marten compares the two to know whether to replace it.
        var appendOnly = Function.ForSql("""
            CREATE OR REPLACE FUNCTION everruns.audit_log_append_only()
             RETURNS trigger
             LANGUAGE plpgsql
            AS $function$
            begin
                raise exception 'everruns.audit_log is append-only';
            end $function$;
            """);
        // One trigger per event: PostgreSQL lists several events of one trigger in an order of its own.
        var appendOnlyTriggers = new[] { TriggerEvents.Update, TriggerEvents.Delete, TriggerEvents.Truncate }.Select(e =>
            new Trigger($"everruns.trg_audit_log_no_{e.ToString().ToLowerInvariant()}", "everruns.audit_log", "everruns.audit_log_append_only()")
            {
                Timing = TriggerTiming.Before,
                Events = e,
                ForEachRow = false,
            });

        // Counters of the current windows (a lease hands a batch of hits to an instance: few writes).
        var rateLimits = new Table("everruns.rate_limits");
        rateLimits.AddColumn("key", "text").AsPrimaryKey();
        rateLimits.AddColumn("window_start", "timestamptz").NotNull();
        rateLimits.AddColumn("count", "bigint").NotNull();

        return [audit, appendOnly, .. appendOnlyTriggers, rateLimits];
    }
}
