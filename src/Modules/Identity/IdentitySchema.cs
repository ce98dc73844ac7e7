using Weasel.Core;
using Weasel.Postgresql.Functions;
using Weasel.Postgresql.Tables;
using Weasel.Postgresql.Triggers;

namespace Everruns.Modules.Identity;

/// <summary>
/// Orgs, users, memberships, access tokens, the audit log and the rate-limit counters: declared to Marten, which creates
/// and migrates them with its own schema (see the host's SchemaMigrator).
/// </summary>
public static class IdentitySchema
{
    public static IEnumerable<ISchemaObject> Objects()
    {
        var orgs = new Table("everruns.orgs");
        orgs.AddColumn("id", "text").AsPrimaryKey();
        orgs.AddColumn("name", "text").NotNull();
        orgs.AddColumn("created_at", "timestamptz").NotNull().DefaultValueByExpression("now()");
        orgs.AddColumn("updated_at", "timestamptz").NotNull().DefaultValueByExpression("now()");

        var users = new Table("everruns.users");
        users.AddColumn("id", "text").AsPrimaryKey();
        users.AddColumn("name", "text").NotNull();
        users.AddColumn("system_admin", "boolean").NotNull().DefaultValueByExpression("false");
        users.AddColumn("created_at", "timestamptz").NotNull().DefaultValueByExpression("now()");

        var members = new Table("everruns.org_members");
        members.AddColumn("org_id", "text").AsPrimaryKey().ForeignKeyTo(orgs, "id", null, CascadeAction.Cascade, CascadeAction.NoAction);
        members.AddColumn("user_id", "text").AsPrimaryKey().ForeignKeyTo(users, "id", null, CascadeAction.Cascade, CascadeAction.NoAction);
        members.AddColumn("role", "text").NotNull(); // admin or member (checked by the API)
        members.AddColumn("created_at", "timestamptz").NotNull().DefaultValueByExpression("now()");
        members.Indexes.Add(new IndexDefinition("ix_org_members_user") { Columns = ["user_id"] });

        var tokens = new Table("everruns.access_tokens");
        tokens.AddColumn("id", "text").AsPrimaryKey();
        tokens.AddColumn("user_id", "text").NotNull().ForeignKeyTo(users, "id", null, CascadeAction.Cascade, CascadeAction.NoAction);
        tokens.AddColumn("name", "text").NotNull();
        tokens.AddColumn("token_prefix", "text").NotNull();
        tokens.AddColumn("hash", "text").NotNull();
        tokens.AddColumn("secret_id", "text").NotNull();
        tokens.AddColumn("scopes", "text[]").NotNull().DefaultValueByExpression("'{*}'");
        tokens.AddColumn("created_at", "timestamptz").NotNull().DefaultValueByExpression("now()");
        tokens.AddColumn("expires_at", "timestamptz");
        tokens.AddColumn("last_used_at", "timestamptz");
        tokens.AddColumn("revoked_at", "timestamptz");
        tokens.Indexes.Add(new IndexDefinition("uq_access_tokens_hash") { Columns = ["hash"], IsUnique = true });
        tokens.Indexes.Add(new IndexDefinition("ix_access_tokens_user") { Columns = ["user_id"] });

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

        return [orgs, users, members, tokens, audit, appendOnly, .. appendOnlyTriggers, rateLimits];
    }
}
