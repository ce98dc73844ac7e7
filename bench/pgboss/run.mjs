// pg-boss doing the shape of work of an Everruns turn: enqueue a job, a worker takes it, completes it.
// Usage: node run.mjs <postgres url> <jobs> <concurrency>; prints one JSON line.
import PgBoss from "pg-boss";

const [url, jobsArg, concurrencyArg] = process.argv.slice(2);
const jobs = Number(jobsArg ?? 2000);
const concurrency = Number(concurrencyArg ?? 32);
const boss = new PgBoss({ connectionString: url, schema: "pgboss_bench", max: 20 });
boss.on("error", (e) => console.error(e.message));
await boss.start();
const queue = "bench";
await boss.createQueue(queue);
// The bench measures PostgreSQL's CPU from here: it says "go" once it has taken its first sample.
console.log("ready");
await new Promise((resolve) => process.stdin.once("data", resolve));
const cpuStart = process.cpuUsage();

let done = 0;
const started = performance.now();
// Four workers taking up to 200 jobs per fetch, polling at pg-boss's fastest (0.5 s): its best case.
const finished = new Promise((resolve) => {
  for (let w = 0; w < 4; w++) {
    boss.work(queue, { batchSize: 200, pollingIntervalSeconds: 0.5 }, async (batch) => {
      done += batch.length;
      if (done >= jobs) resolve(performance.now());
    });
  }
});

// Enqueue from `concurrency` concurrent producers, one job per call (as clients post messages one by one).
let next = 0;
await Promise.all(Array.from({ length: concurrency }, async () => {
  while (next < jobs) { next++; await boss.send(queue, { n: next }); }
}));
const end = await finished;
const cpu = process.cpuUsage(cpuStart);
console.log(JSON.stringify({
  jobs, seconds: (end - started) / 1000, jobs_per_second: jobs / ((end - started) / 1000),
  node_cpu_ms_per_job: (cpu.user + cpu.system) / 1000 / jobs,
}));
await boss.stop({ graceful: false, wait: false });
process.exit(0);
