namespace Everruns.Modules.Identity;

/// <summary>Orgs, users, memberships, access tokens, the audit log and the rate-limit counters.</summary>
public static class IdentitySchema
{
    public static IEnumerable<string> Sql =>
    [
        """
        create table if not exists everruns.orgs (
            id text primary key,
            name text not null,
            created_at timestamptz not null default now(),
            updated_at timestamptz not null default now()
        );
        create table if not exists everruns.users (
            id text primary key,
            name text not null,
            system_admin boolean not null default false,
            created_at timestamptz not null default now()
        );
        create table if not exists everruns.org_members (
            org_id text not null references everruns.orgs (id) on delete cascade,
            user_id text not null references everruns.users (id) on delete cascade,
            role text not null check (role in ('admin', 'member')),
            created_at timestamptz not null default now(),
            primary key (org_id, user_id)
        );
        create index if not exists ix_org_members_user on everruns.org_members (user_id);
        create table if not exists everruns.access_tokens (
            id text primary key,
            user_id text not null references everruns.users (id) on delete cascade,
            name text not null,
            token_prefix text not null,
            hash text not null,
            secret_id text not null,
            scopes text[] not null default '{*}',
            created_at timestamptz not null default now(),
            expires_at timestamptz,
            last_used_at timestamptz,
            revoked_at timestamptz
        );
        create unique index if not exists uq_access_tokens_hash on everruns.access_tokens (hash);
        create index if not exists ix_access_tokens_user on everruns.access_tokens (user_id);
        """,
        """
        create table if not exists everruns.audit_log (
            id bigint generated always as identity primary key,
            at timestamptz not null default now(),
            org_id text,
            actor text not null,
            action text not null,
            target text,
            details jsonb not null default '{}'
        );
        create index if not exists ix_audit_log_org on everruns.audit_log (org_id, id desc);
        create or replace function everruns.audit_log_append_only() returns trigger language plpgsql as $$
        begin
            raise exception 'everruns.audit_log is append-only';
        end $$;
        create or replace trigger trg_audit_log_append_only before update or delete or truncate on everruns.audit_log
            for each statement execute function everruns.audit_log_append_only();
        """,
        // Counters only: losing them in a crash (UNLOGGED) just restarts the current windows.
        """
        create unlogged table if not exists everruns.rate_limits (
            key text primary key,
            window_start timestamptz not null,
            count bigint not null
        );
        alter table everruns.rate_limits alter column count type bigint;
        """,
    ];
}
