// LangGraph JS doing the shape of work of an Everruns turn: a graph of a model node (a deterministic echo, no network)
// and its end, compiled with the PostgreSQL checkpointer (PostgresSaver, tables in the schema bench_langgraph), one
// thread per session, invoked once per message; each invocation's checkpoints are written before it returns
// (durability "sync": a step's checkpoint is committed before the next step starts).
// Usage: node run.mjs <postgres url> <runs> <concurrency>; prints "ready", waits for a line on stdin, runs, prints one
// JSON line. `concurrency` sessions post their messages one after the other (a closed loop, as the turn runs do).
import { Annotation, END, START, StateGraph } from "@langchain/langgraph";
import { PostgresSaver } from "@langchain/langgraph-checkpoint-postgres";
import pg from "pg";

const [url, runsArg, concurrencyArg] = process.argv.slice(2);
const runs = Number(runsArg ?? 2000);
const concurrency = Number(concurrencyArg ?? 32);
// 20 connections, as pg-boss is given.
const pool = new pg.Pool({ connectionString: url, max: 20 });
pool.on("error", (e) => console.error(e.message));
const checkpointer = new PostgresSaver(pool, undefined, { schema: "bench_langgraph" });
await pool.query("create schema if not exists bench_langgraph");
await checkpointer.setup();

// The conversation: the user's messages and the answers, appended to by each invocation.
const State = Annotation.Root({
  messages: Annotation({ reducer: (left, right) => left.concat(right), default: () => [] }),
});
const graph = new StateGraph(State)
  .addNode("model", (state) => {
    const last = state.messages[state.messages.length - 1];
    return { messages: [{ role: "agent", text: `Echo: ${last.text}` }] };
  })
  .addEdge(START, "model")
  .addEdge("model", END)
  .compile({ checkpointer });

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
await pool.end();
process.exit(0);

// `count` messages from `concurrency` sessions, each posting its next message once the previous one's run is over.
async function load(label, count) {
  const latencies = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async (_, s) => {
    const config = { configurable: { thread_id: `${process.pid}.${label}.${Date.now().toString(36)}-${s}` }, durability: "sync" };
    for (let m = 0; next < count; m++) {
      next++;
      const t = performance.now();
      const text = `bench ${s}.${m}`;
      const state = await graph.invoke({ messages: [{ role: "user", text }] }, config);
      latencies.push(performance.now() - t);
      const answer = state.messages[state.messages.length - 1];
      if (answer.text !== `Echo: ${text}` || state.messages.length !== 2 * (m + 1))
        throw new Error(`unexpected state ${JSON.stringify(state.messages.slice(-2))}`);
    }
  }));
  return { latencies, seconds: (performance.now() - started) / 1000 };
}

// Before "ready": a tenth of the load (at least 100 runs), so that what is measured is the library's steady state (its
// code compiled by V8, its pools full), as the server's nodes are warmed up before they are measured.
async function warmUp() {
  await load("warm", Math.max(100, Math.ceil(runs / 10)));
}
