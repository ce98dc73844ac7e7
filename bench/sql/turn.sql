-- One turn's statements as this build sends them (ops/bench-sql): the POST, then the model-call step. Each
-- \startpipeline ... \endpipeline block is one round trip; payloads are the size of the offline model's. The turn state
-- is keyed by (tenant_id, id) since org isolation became Marten's conjoined tenancy: the replay's sessions are in
-- Marten's default tenant.
\set s random(1, 2000)
\set r random(1, 1000000000000)
-- The POST: the lock, the turn state and the stream's version; the input and the turn's start, the state, the step's
-- inbox envelope; the commit.
\startpipeline
BEGIN;
select pg_advisory_xact_lock(1397052243, hashtext('session_' || :s));
select d.id, d.data, d.mt_version from everruns.mt_doc_sessionturns as d where d.tenant_id = '*DEFAULT*' and d.id = 'session_' || :s;
select id, version, type, timestamp, created, is_archived, compacted_version from everruns.mt_streams where id = 'session_' || :s;
\endpipeline
\startpipeline
select everruns.mt_quick_append_events('session_' || :s, null, '*DEFAULT*', array[gen_random_uuid(),gen_random_uuid()], array['input.message','turn.started']::varchar[], array[null,null]::varchar[], array['{"message":{"id":"message_dc0c72419560a61f2e1d5f888f149b16","role":"user","content":[{"type":"text","text":"hello"}]}}','{"turn_id":"turn_ff7d6d0edf97113d2ae5727700db222b","input_content":"hello","input_message_id":"message_dc0c72419560a61f2e1d5f888f149b16"}']::jsonb[], array[null,null]::bytea[], array['{"turn_id":"turn_ff7d6d0edf97113d2ae5727700db222b","input_message_id":"message_dc0c72419560a61f2e1d5f888f149b16"}','{"turn_id":"turn_ff7d6d0edf97113d2ae5727700db222b","input_message_id":"message_dc0c72419560a61f2e1d5f888f149b16"}']::jsonb[], array[now(),now()], null);
insert into everruns.mt_doc_sessionturns (tenant_id, id, data, mt_version, mt_dotnet_type, mt_last_modified) values ('*DEFAULT*', 'session_' || :s, '{"id": "session_9e45656abb826725ff5f0c1c1df61581", "queue": [], "active": {"turn_id": "turn_ff7d6d0edf97113d2ae5727700db222b", "input_message_id": "message_dc0c72419560a61f2e1d5f888f149b16", "input_text": "hello", "iteration": 1, "phase": "Reasoning", "started_at": "2026-11-26T19:47:43.4858151+00:00"}, "version": "01a21709-c439-46d6-9544-a8207b53d554", "inputs_seen": 1, "activity": {"at": "2026-11-26T19:47:43.4858151+00:00", "started_at": "2026-11-26T19:47:43.4858151+00:00", "finished_at": null, "preview": "hello", "output_preview": "Echo: hello"}}', gen_random_uuid(), 'Everruns.Modules.Execution.SessionTurns', transaction_timestamp()) on conflict (tenant_id, id) do update set data = excluded.data, mt_version = excluded.mt_version, mt_dotnet_type = excluded.mt_dotnet_type, mt_last_modified = excluded.mt_last_modified returning mt_version;
insert into wolverine.wolverine_incoming_envelopes (body, id, status, owner_id, execution_time, attempts, message_type, received_at, keep_until) values (decode(repeat('7e834de5994bdf480a00000006736f75726365086576657272756e730c6d6573736167652d74797065204576657272756e732e436f6e7472616374732e4d657373616765506f73746564097265706c792d757269106c6f63616c3a2f2f7265706c6965732f0c636f6e74656e742d74797065106170706c69636174696f6e2f6a736f6e', 4), 'hex'), md5(:s || '-' || :r)::uuid, 'Incoming', 1, null, 0, 'Everruns.Modules.Execution.RunTurnStep', 'local://turn-steps/', null);
\endpipeline
COMMIT;
-- The model-call step, with the turn state handed over: the lock, the answer and the turn's end, the state, the
-- envelope handled; the commit.
\startpipeline
BEGIN;
select pg_advisory_xact_lock(1397052243, hashtext('session_' || :s));
select everruns.mt_quick_append_events('session_' || :s, null, '*DEFAULT*', array[gen_random_uuid(),gen_random_uuid(),gen_random_uuid(),gen_random_uuid()], array['output.message.started','output.message.delta','output.message.completed','turn.completed']::varchar[], array[null,null,null,null]::varchar[], array['{"model":"everruns-offline","turn_id":"turn_ff7d6d0edf97113d2ae5727700db222b"}','{"delta":"Echo: hello","turn_id":"turn_ff7d6d0edf97113d2ae5727700db222b"}','{"message":{"id":"message_dc0c72419560a61f2e1d5f888f149b16","role":"agent","content":[{"type":"text","text":"Echo: hello"}]}}','{"turn_id":"turn_ff7d6d0edf97113d2ae5727700db222b","iterations":1,"duration_ms":6}']::jsonb[], array[null,null,null,null]::bytea[], array['{"turn_id":"turn_ff7d6d0edf97113d2ae5727700db222b","input_message_id":"message_dc0c72419560a61f2e1d5f888f149b16"}','{"turn_id":"turn_ff7d6d0edf97113d2ae5727700db222b","input_message_id":"message_dc0c72419560a61f2e1d5f888f149b16"}','{"turn_id":"turn_ff7d6d0edf97113d2ae5727700db222b","input_message_id":"message_dc0c72419560a61f2e1d5f888f149b16"}','{"turn_id":"turn_ff7d6d0edf97113d2ae5727700db222b","input_message_id":"message_dc0c72419560a61f2e1d5f888f149b16"}']::jsonb[], array[now(),now(),now(),now()], null);
insert into everruns.mt_doc_sessionturns (tenant_id, id, data, mt_version, mt_dotnet_type, mt_last_modified) values ('*DEFAULT*', 'session_' || :s, '{"id": "session_9e45656abb826725ff5f0c1c1df61581", "queue": [], "active": null, "version": "01a21709-c439-46d6-9544-a8207b53d554", "inputs_seen": 1, "activity": {"at": "2026-11-26T19:47:43.4858151+00:00", "started_at": "2026-11-26T19:47:43.4858151+00:00", "finished_at": null, "preview": "hello", "output_preview": "Echo: hello"}}', gen_random_uuid(), 'Everruns.Modules.Execution.SessionTurns', transaction_timestamp()) on conflict (tenant_id, id) do update set data = excluded.data, mt_version = excluded.mt_version, mt_dotnet_type = excluded.mt_dotnet_type, mt_last_modified = excluded.mt_last_modified returning mt_version;
update wolverine.wolverine_incoming_envelopes set status = 'Handled', keep_until = now(), owner_id = 0 where id = md5(:s || '-' || :r)::uuid and received_at = 'local://turn-steps/';
\endpipeline
COMMIT;
