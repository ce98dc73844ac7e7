-- The notifications of a turn's events as this build sends them: after the commit, in a statement of their own (one per
-- turn here, the most it sends). Appended to turn.sql by ops/bench-sql and ops/bench, on connections that carry
-- everruns.event_notifier=app (the store's trigger skipped). chr(58) is the colon: pgbench would read ":2" in a literal
-- as a variable.
select pg_notify('event_available', p) from unnest(array[concat_ws(chr(58), 'session_' || cast(:s as text), '2', 'input.message'), concat_ws(chr(58), 'session_' || cast(:s as text), '2', 'turn.started'), concat_ws(chr(58), 'session_' || cast(:s as text), '6', 'output.message.started'), concat_ws(chr(58), 'session_' || cast(:s as text), '6', 'output.message.delta'), concat_ws(chr(58), 'session_' || cast(:s as text), '6', 'output.message.completed'), concat_ws(chr(58), 'session_' || cast(:s as text), '6', 'turn.completed')]) p;
