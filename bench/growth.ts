/**
 * How cost grows with the number of tasks (issue 13), in one run on this machine's RabbitMQ + Redis:
 *  - fan-out of 1k, 10k and 100k echo tasks, each size with a fresh worker and a fresh client process: tasks/s, the
 *    client's and the worker's peak RSS — lab (client + `lab worker -P prefork -c 2`) beside the Celery-peer floor
 *    (bench/celery-floor.ts), whose own spread across sizes is the yardstick for lab's. Each size is timed twice:
 *    cold (the first fan-out of fresh processes: JIT, pool children and connections warming up are in it) and warm
 *    (the same size again by the same processes after a warm-up of --warmup tasks, the same for every size: one
 *    fan-out of 1k is not enough to warm lab's client and worker, measured 947 → 1,134 → 1,571 tasks/s in three).
 *    Growth is the warm spread — a per-task cost that grew with the number of tasks (state kept per task, a queue
 *    scanned) shows there; the cold spread is reported beside it (a fixed start-up cost weighs on 1k tasks a hundred
 *    times more than on 100k);
 *  - 100 concurrent clients (100 Apps, 100 connections each way) with one task in flight each: tasks/s and latency.
 * Goals: lab's tasks/s within 25 % of each other across the sizes; peak RSS bounded (no per-task state kept after
 * its result is read).
 *
 *   node dist/bench/growth.js [--sizes 1000,10000,100000] [--warmup 10000] [--clients 100] [--per-client 20] [--json]
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { loadavg } from 'node:os';
import { App } from '../lab/queue/index.js';
import { summarize } from '../lab/report/statistics.js';
import type { Summary } from '../lab/report/statistics.js';
import { formatMs, formatRatio } from '../lab/report/format.js';
import { CeleryFloorClient, celeryFloorConsumer } from './celery-floor.js';
import { peakRssOf } from './proc-stats.js';
import { labFanout } from './lab-fanout.js';
import { AMQP, REDIS, consumerAttached, startLabWorker, startProcess } from './bench-process.js';

const HERE = fileURLToPath(import.meta.url);
const PREFETCH = 8;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}

const SIZES = arg('sizes', '1000,10000,100000').split(',').map(Number);
const CLIENTS = Number(arg('clients', '100'));
const PER_CLIENT = Number(arg('per-client', '20'));
/** Tasks every size's client and worker run between the cold and the warm fan-out: the same warm-up for every size. */
const WARMUP = Number(arg('warmup', '10000'));
const RUN = randomBytes(3).toString('hex');

type Kind = 'lab' | 'floor';

interface ClientReport {
  /** The first fan-out of this process (cold). */
  coldMs: number;
  /** The same fan-out again after the warm-up (warm). */
  ms: number;
  peakRssMb: number;
}

// ---------------------------------------------------------------- the child processes

/**
 * A client process: a fan-out of n (cold), the warm-up (WARMUP tasks, not timed), the fan-out of n again (warm); the
 * two times and its own peak RSS on stdout.
 */
async function clientMain(kind: Kind, queue: string, n: number): Promise<void> {
  let fanout: (n: number) => Promise<number>;
  let close: () => Promise<void>;
  if (kind === 'floor') {
    const c = await CeleryFloorClient.open(AMQP, REDIS, queue, true);
    fanout = async (n) => {
      const t0 = performance.now();
      const out = await c.fanout(n);
      const ms = performance.now() - t0;
      if (out.length !== n || out.some((v, i) => v !== i)) throw new Error('floor fan-out: results missing or out of order');
      return ms;
    };
    close = () => c.close();
  } else {
    const app = new App('bench-growth', { broker: AMQP, backend: REDIS, config: { task_default_queue: queue, result_expires: 600 } });
    await Promise.all([app.getBroker(), app.getBackend()]); // connected before the clock starts, as the floor's client
    fanout = (n) => labFanout(app, n, 1800);
    close = () => app.close();
  }
  const coldMs = await fanout(n);
  await fanout(WARMUP);
  const ms = await fanout(n);
  await close();
  const report: ClientReport = { coldMs, ms, peakRssMb: process.resourceUsage().maxRSS / 1024 };
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

// ---------------------------------------------------------------- measurements

interface SizeFigures {
  n: number;
  /** Warm: the fan-out after the warm-up, by the same processes. */
  tasksPerS: number;
  coldTasksPerS: number;
  clientPeakRssMb: number;
  workerPeakRssMb: number;
}

async function fanoutAt(kind: Kind, n: number): Promise<SizeFigures> {
  const queue = `bench-growth-${kind}-${n}-${RUN}`;
  const admin = new App('bench-growth-admin', { broker: AMQP, backend: REDIS });
  const worker =
    kind === 'lab'
      ? startLabWorker(queue)
      : startProcess(process.execPath, [HERE, '--floor-worker', queue]);
  try {
    await consumerAttached(admin, queue, worker);
    const client = startProcess(process.execPath, [HERE, '--client', kind, queue, String(n)]);
    const code = await client.done;
    if (code !== 0) throw new Error(`${kind} client (n=${n}) exited ${code}:\n${client.out()}`);
    const report = JSON.parse(client.out().trim().split('\n').pop()!) as ClientReport;
    return { n, tasksPerS: n / (report.ms / 1000), coldTasksPerS: n / (report.coldMs / 1000), clientPeakRssMb: report.peakRssMb, workerPeakRssMb: peakRssOf(worker.pid) };
  } finally {
    await worker.stop();
    const broker = await admin.getBroker().catch(() => null);
    await broker?.deleteQueue(queue).catch(() => undefined);
    await admin.close();
  }
}

/** CLIENTS Apps in this process, each sending PER_CLIENT echoes one after another, all at once. */
async function concurrentClients(): Promise<{ tasksPerS: number; latency: Summary; clientRssMb: number }> {
  const queue = `bench-growth-clients-${RUN}`;
  const admin = new App('bench-growth-admin', { broker: AMQP, backend: REDIS });
  const worker = startLabWorker(queue);
  const apps = Array.from({ length: CLIENTS }, (_, i) => new App(`bench-growth-client-${i}`, { broker: AMQP, backend: REDIS, config: { task_default_queue: queue, result_expires: 600 } }));
  try {
    await consumerAttached(admin, queue, worker);
    // Connected first: the figure is the steady state, not 200 connection handshakes.
    await Promise.all(apps.map(async (a) => Promise.all([a.getBroker(), a.getBackend()])));
    const samples: number[] = [];
    const t0 = performance.now();
    await Promise.all(
      apps.map(async (a, i) => {
        for (let k = 0; k < PER_CLIENT; k++) {
          const s0 = performance.now();
          const r = await a.sendTask('test.echo', [`${i}:${k}`]);
          if ((await r.get({ timeout: 120 })) !== `${i}:${k}`) throw new Error('wrong echo');
          samples.push(performance.now() - s0);
          await r.forget();
        }
      }),
    );
    const ms = performance.now() - t0;
    return { tasksPerS: (CLIENTS * PER_CLIENT) / (ms / 1000), latency: summarize(samples), clientRssMb: process.memoryUsage.rss() / 1024 / 1024 };
  } finally {
    await worker.stop();
    const broker = await admin.getBroker().catch(() => null);
    await broker?.deleteQueue(queue).catch(() => undefined);
    await Promise.all([admin, ...apps].map((a) => a.close()));
  }
}

function spread(xs: number[]): number {
  return Math.max(...xs) / Math.min(...xs) - 1;
}

async function main(): Promise<void> {
  if (process.argv[2] === '--client') {
    await clientMain(process.argv[3] as Kind, process.argv[4], Number(process.argv[5]));
    return;
  }
  if (process.argv[2] === '--floor-worker') {
    const stop = await celeryFloorConsumer(AMQP, REDIS, process.argv[3], PREFETCH, 600);
    process.on('SIGTERM', () => void stop().finally(() => process.exit(0)));
    return;
  }
  const t0 = Date.now();
  const figures: Record<Kind, SizeFigures[]> = { lab: [], floor: [] };
  for (const n of SIZES) {
    // Alternated, so a change in the machine's load falls on both alike.
    for (const kind of ['floor', 'lab'] as Kind[]) {
      process.stderr.write(`  fan-out ${n}, ${kind}…\n`);
      figures[kind].push(await fanoutAt(kind, n));
    }
  }
  process.stderr.write(`  ${CLIENTS} concurrent clients…\n`);
  const clients = await concurrentClients();
  const lines: string[] = [];
  lines.push(`growth benchmark · node ${process.version} · load ${loadavg().map((x) => x.toFixed(1)).join(' ')} · ${new Date().toISOString()}`);
  lines.push('');
  lines.push('fan-out      Celery-peer floor: tasks/s cold → warm, client/worker peak RSS     lab prefork -c 2: tasks/s cold → warm, client/worker peak RSS');
  SIZES.forEach((n, i) => {
    const f = figures.floor[i];
    const l = figures.lab[i];
    lines.push(`${String(n).padEnd(12)} ${f.coldTasksPerS.toFixed(0).padStart(6)} → ${f.tasksPerS.toFixed(0).padStart(6)}  ${f.clientPeakRssMb.toFixed(0).padStart(5)} / ${f.workerPeakRssMb.toFixed(0).padStart(4)} MB${' '.repeat(30)}${l.coldTasksPerS.toFixed(0).padStart(6)} → ${l.tasksPerS.toFixed(0).padStart(6)} (warm ${formatRatio(l.tasksPerS / f.tasksPerS)})  ${l.clientPeakRssMb.toFixed(0).padStart(5)} / ${l.workerPeakRssMb.toFixed(0).padStart(4)} MB`);
  });
  const labSpread = spread(figures.lab.map((x) => x.tasksPerS));
  const floorSpread = spread(figures.floor.map((x) => x.tasksPerS));
  const labColdSpread = spread(figures.lab.map((x) => x.coldTasksPerS));
  const floorColdSpread = spread(figures.floor.map((x) => x.coldTasksPerS));
  lines.push('');
  lines.push(`${CLIENTS} concurrent lab clients, one task in flight each (${CLIENTS * PER_CLIENT} tasks): ${clients.tasksPerS.toFixed(0)} tasks/s, latency median ${formatMs(clients.latency.median)}, p99 ${formatMs(clients.latency.p99)}; the clients' process ${clients.clientRssMb.toFixed(0)} MB RSS`);
  lines.push('');
  lines.push(`${labSpread <= 0.25 ? 'MET ' : 'MISS'}  lab fan-out tasks/s within 25 % across ${SIZES.join(' / ')} (warm): spread ${(labSpread * 100).toFixed(0)} % (the Celery-peer floor's own: ${(floorSpread * 100).toFixed(0)} %)`);
  lines.push(`INFO  cold (first fan-out of fresh processes): lab spread ${(labColdSpread * 100).toFixed(0)} %, the floor's ${(floorColdSpread * 100).toFixed(0)} %`);
  const big = figures.lab[figures.lab.length - 1];
  lines.push(`INFO  lab peak RSS at ${big.n} tasks: client ${big.clientPeakRssMb.toFixed(0)} MB, worker (3 processes) ${big.workerPeakRssMb.toFixed(0)} MB; floor client ${figures.floor[figures.floor.length - 1].clientPeakRssMb.toFixed(0)} MB`);
  lines.push('');
  lines.push(`(${((Date.now() - t0) / 1000).toFixed(0)} s; each size with a fresh worker and client process, timed cold and then warm (after ${WARMUP} tasks); peak RSS = VmHWM summed over a worker's processes)`);
  process.stdout.write(`${lines.join('\n')}\n`);
  if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify({ sizes: SIZES, floor: figures.floor, lab: figures.lab, labSpread, floorSpread, labColdSpread, floorColdSpread, clients })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/growth: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
