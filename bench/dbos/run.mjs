// DBOS Transact doing the shape of work of an Everruns turn: one durable workflow per message, with a step that "calls
// the model" (a deterministic echo, no network) and a step that records the answer as the six event rows a turn
// writes (input.message, turn.started, output.message.started, output.message.delta, output.message.completed,
// turn.completed) in bench_dbos.events. DBOS checkpoints the workflow and each step's outcome in its system tables,
// kept in the schema dbos_bench of the same database.
// Usage: node run.mjs <postgres url> <runs> <concurrency>; prints "ready", waits for a line on stdin, runs, prints one
// JSON line. `concurrency` sessions post their messages one after the other (a closed loop, as the turn runs do).
import { DBOS } from "@dbos-inc/dbos-sdk";
import pg from "pg";

const [url, runsArg, concurrencyArg] = process.argv.slice(2);
const runs = Number(runsArg ?? 2000);
const concurrency = Number(concurrencyArg ?? 16);
// DBOS's pool and the events' pool: 20 connections in all, as pg-boss is given.
const pool = new pg.Pool({ connectionString: url, max: 10 });
pool.on("error", (e) => console.error(e.message));
await pool.query("create schema if not exists bench_dbos");
await pool.query(`create table if not exists bench_dbos.events (
  session_id text not null, seq int not null, type text not null, data jsonb not null, primary key (session_id, seq))`);

const TYPES = ["input.message", "turn.started", "output.message.started", "output.message.delta",
  "output.message.completed", "turn.completed"];

const callModel = DBOS.registerStep(async (text) => `Echo: ${text}`, { name: "callModel" });

// One statement, so one transaction; idempotent, as a step may run again if the process dies before its checkpoint.
const record = DBOS.registerStep(async (sessionId, message, text, answer) => {
  const turn = `${sessionId}.${message}`;
  const data = [
    { message: { role: "user", content: [{ type: "text", text }] } },
    { turn_id: turn, input_content: text },
    { model: "echo", turn_id: turn },
    { delta: answer, turn_id: turn },
    { message: { role: "agent", content: [{ type: "text", text: answer }] } },
    { turn_id: turn, iterations: 1 },
  ];
  await pool.query(
    `insert into bench_dbos.events (session_id, seq, type, data)
     select $1, $2 + s.i, s.type, s.data from unnest($3::text[], $4::jsonb[]) with ordinality as s(type, data, i)
     on conflict do nothing`,
    [sessionId, message * TYPES.length, TYPES, data.map((d) => JSON.stringify(d))]);
  return answer;
}, { name: "record" });

const turn = DBOS.registerWorkflow(async (sessionId, message, text) => {
  const answer = await callModel(text);
  return await record(sessionId, message, text, answer);
}, { name: "turn" });

DBOS.setConfig({
  name: "everruns-bench", systemDatabaseUrl: url, systemDatabaseSchemaName: "dbos_bench", systemDatabasePoolSize: 10,
  logLevel: "error",
});
await DBOS.launch();
await warmUp();
// The bench measures PostgreSQL's CPU from here: it says "go" once it has taken its first sample.
console.log("ready");
await new Promise((resolve) => process.stdin.once("data", resolve));
const cpuStart = process.cpuUsage();

const { latencies, seconds } = await load("run", runs);
const cpu = process.cpuUsage(cpuStart);
latencies.sort((a, b) => a - b);
const percentile = (p) => latencies[Math.min(latencies.length - 1, Math.ceil(latencies.length * p / 100) - 1)];
console.log(JSON.stringify({
  runs, seconds, runs_per_second: runs / seconds, p50_ms: percentile(50), p99_ms: percentile(99),
  node_cpu_ms_per_run: (cpu.user + cpu.system) / 1000 / runs,
}));
await DBOS.shutdown();
await pool.end();
process.exit(0);

// `count` messages from `concurrency` sessions, each posting its next message once the previous one's run is over.
async function load(label, count) {
  const latencies = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async (_, s) => {
    const sessionId = `${process.pid}.${label}.${Date.now().toString(36)}-${s}`;
    for (let m = 0; next < count; m++) {
      next++;
      const t = performance.now();
      const handle = await DBOS.startWorkflow(turn, { workflowID: `${sessionId}-${m}` })(sessionId, m, `bench ${s}.${m}`);
      const answer = await handle.getResult();
      latencies.push(performance.now() - t);
      if (answer !== `Echo: bench ${s}.${m}`) throw new Error(`unexpected answer ${answer}`);
    }
  }));
  return { latencies, seconds: (performance.now() - started) / 1000 };
}

// Before "ready": a tenth of the load (at least 100 runs), so that what is measured is the library's steady state (its
// code compiled by V8, its pools full), as the server's nodes are warmed up before they are measured.
async function warmUp() {
  await load("warm", Math.max(100, Math.ceil(runs / 10)));
}
