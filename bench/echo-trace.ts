/**
 * Where an echo's time goes, hop by hop (issue 13: echo p50 on the prefork pool misses 1.2× the Celery-peer floor
 * while the async pool is near it, and a CPU profile shows no lab frame that would explain the gap). A prefork and
 * an async `lab worker` (-c 2) run with bench/hops-recorder.ts loaded (node --import; pool children inherit it), which
 * timestamps each hop the runtime publishes on a diagnostics channel (lab/queue/hops.ts); the client times send,
 * publish confirmed and result in hand. Calls alternate between the two workers, one at a time (a burst of load on
 * this shared machine lands on both alike), and every segment is reported as its median over the calls, in µs.
 * Segment medians need not add up to the median total; the total's own median is printed.
 *
 * `--no-confirm` publishes without publisher confirms (kombu's default): RabbitMQ then has no confirm to send while
 * the task runs, and the client none to read — what that takes off the prefork child's part shows what the
 * crossings compete with.
 *
 *   node dist/bench/echo-trace.js [--calls 500] [--warmup 50] [--no-confirm] [--json]
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { App, HOPS } from '../lab/queue/index.js';
import type { Hop } from '../lab/queue/index.js';
import { summarize } from '../lab/report/statistics.js';
import type { RecordedHop } from './hops-recorder.js';
import { AMQP, REDIS, consumerAttached, startLabWorker } from './bench-process.js';

const HERE = fileURLToPath(import.meta.url);
const RECORDER = join(dirname(HERE), 'hops-recorder.js');

function num(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i > 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`--${name} must be a positive integer, got ${process.argv[i + 1]}`);
  return v;
}
const CALLS = num('calls', 500);
const WARMUP = num('warmup', 50);
const CONFIRM = !process.argv.includes('--no-confirm');
const POOLS = ['prefork', 'async'] as const;
type PoolName = (typeof POOLS)[number];

/** What the client saw of one call (ms since the epoch, like the recorder's). */
interface ClientTimes {
  sent: number;
  confirmed: number;
  got: number;
}
type Point = Hop | 'sent' | 'confirmed' | 'got';

/** The segments reported, in path order: [label, from, to]; a pool reports those whose points it has. */
const SEGMENTS: [string, Point, Point][] = [
  ['client publishes → worker has the message', 'sent', 'received'],
  ['worker → pool writes it to a child', 'received', 'to-child'],
  ['pipe: child reads it', 'to-child', 'in-child'],
  ['child runs echo (decode, run, encode)', 'in-child', 'child-ran'],
  ['pipe: worker reads the outcome', 'child-ran', 'from-child'],
  ['worker takes the outcome', 'from-child', 'ran'],
  ['task in the worker (async pool: no child)', 'received', 'ran'],
  ['result store: SETEX + PUBLISH, reply read', 'ran', 'stored'],
  ['client has the result, from the store’s reply', 'stored', 'got'],
  ['(client: publish confirmed, from sent)', 'sent', 'confirmed'],
];

const now = (): number => performance.timeOrigin + performance.now();


/** Every recorded hop in `dir`, by task id. */
function readHops(dir: string): Map<string, Partial<Record<Hop, number>>> {
  const byId = new Map<string, Partial<Record<Hop, number>>>();
  for (const file of readdirSync(dir)) {
    for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
      if (!line) continue;
      const h = JSON.parse(line) as RecordedHop;
      const points = byId.get(h.id) ?? {};
      points[h.hop] = h.at;
      byId.set(h.id, points);
    }
  }
  return byId;
}

interface PoolFigures {
  totalUs: number;
  /** Median µs per segment label (segments this pool passes). */
  segmentsUs: Record<string, number>;
  calls: number;
}

/** The hops each pool's worker must have recorded for every call (a missing one: the recorder was not loaded). */
const REQUIRED: Record<PoolName, readonly Hop[]> = { prefork: HOPS, async: ['received', 'ran', 'stored'] };

function figures(pool: PoolName, calls: Map<string, ClientTimes>, hops: Map<string, Partial<Record<Hop, number>>>): PoolFigures {
  const samples = new Map<string, number[]>();
  const totals: number[] = [];
  for (const [id, client] of calls) {
    const points: Partial<Record<Point, number>> = { ...hops.get(id), ...client };
    for (const hop of REQUIRED[pool]) {
      if (points[hop] === undefined) throw new Error(`task ${id}: the ${pool} worker recorded no '${hop}' hop (was bench/hops-recorder.js loaded?)`);
    }
    totals.push(client.got - client.sent);
    for (const [label, from, to] of SEGMENTS) {
      const a = points[from];
      const b = points[to];
      if (a === undefined || b === undefined) continue;
      const xs = samples.get(label) ?? [];
      xs.push((b - a) * 1000);
      samples.set(label, xs);
    }
  }
  const segmentsUs = Object.fromEntries([...samples].map(([label, xs]) => [label, summarize(xs).median]));
  return { totalUs: summarize(totals).median * 1000, segmentsUs, calls: calls.size };
}

async function main(): Promise<void> {
  const run = `${Date.now().toString(36)}-${process.pid}`;
  const hopsDir = mkdtempSync(join(tmpdir(), 'lab-echo-trace-'));
  const queues: Record<PoolName, string> = { prefork: `bench-trace-prefork-${run}`, async: `bench-trace-async-${run}` };
  const client = (p: PoolName): App => new App(`bench-trace-${p}`, { broker: AMQP, backend: REDIS, config: { task_default_queue: queues[p], result_expires: 600, broker_transport_options: { confirm_publish: CONFIRM } } });
  const apps: Record<PoolName, App> = { prefork: client('prefork'), async: client('async') };
  const workers = POOLS.map((pool) => startLabWorker(queues[pool], { pool, nodeArgs: ['--import', RECORDER], env: { LAB_HOPS_DIR: hopsDir } }));
  const calls: Record<PoolName, Map<string, ClientTimes>> = { prefork: new Map(), async: new Map() };
  const ids: Record<PoolName, string[]> = { prefork: [], async: [] };
  const echo = async (pool: PoolName, record: boolean): Promise<void> => {
    const sent = now();
    const r = await apps[pool].sendTask('test.echo', ['Python rocks!']);
    const confirmed = now();
    await r.get({ timeout: 30 });
    ids[pool].push(r.id);
    if (record) calls[pool].set(r.id, { sent, confirmed, got: now() });
  };
  const stopWorkers = (): Promise<unknown> => Promise.all(workers.map((w) => w.stop()));
  const cleanUp = async (): Promise<void> => {
    await stopWorkers();
    for (const p of POOLS) {
      const backend = await apps[p].getBackend().catch(() => null);
      await Promise.all(ids[p].map((id) => backend?.forget(id))).catch(() => undefined);
      const broker = await apps[p].getBroker().catch(() => null);
      await broker?.deleteQueue(queues[p]).catch(() => undefined);
      await apps[p].close();
    }
    rmSync(hopsDir, { recursive: true, force: true });
  };
  // Ctrl-C: the workers, their queues and the hop files go too.
  const interrupted = (): void => void cleanUp().finally(() => process.exit(130));
  process.once('SIGINT', interrupted).once('SIGTERM', interrupted);
  try {
    process.stderr.write(`echo-trace: a prefork and an async worker (-c 2), ${CALLS} calls each after ${WARMUP} warm-up, alternating…\n`);
    await Promise.all(POOLS.map((p, i) => consumerAttached(apps[p], queues[p], workers[i])));
    for (let i = 0; i < WARMUP; i++) for (const p of POOLS) await echo(p, false);
    for (let i = 0; i < CALLS; i++) for (let k = 0; k < POOLS.length; k++) await echo(POOLS[(i + k) % POOLS.length], true);
    // The recorder writes when a process exits: stop the workers (and their children) before reading.
    await stopWorkers();
    const hops = readHops(hopsDir);
    const result = { prefork: figures('prefork', calls.prefork, hops), async: figures('async', calls.async, hops), load: loadavg()[0], confirms: CONFIRM };
    report(result);
  } finally {
    process.off('SIGINT', interrupted).off('SIGTERM', interrupted);
    await cleanUp();
  }
}

function report(r: { prefork: PoolFigures; async: PoolFigures; load: number; confirms: boolean }): void {
  if (process.argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify(r)}\n`);
    return;
  }
  const us = (x: number | undefined): string => (x === undefined ? '—' : `${Math.round(x)} µs`);
  const width = Math.max(...SEGMENTS.map(([label]) => label.length));
  const lines = [`${'segment (median of each)'.padEnd(width)}  ${'prefork'.padStart(9)}  ${'async'.padStart(9)}`];
  for (const [label] of SEGMENTS) lines.push(`${label.padEnd(width)}  ${us(r.prefork.segmentsUs[label]).padStart(9)}  ${us(r.async.segmentsUs[label]).padStart(9)}`);
  lines.push(`${'total, sent → result in hand'.padEnd(width)}  ${us(r.prefork.totalUs).padStart(9)}  ${us(r.async.totalUs).padStart(9)}`);
  const child = ['pipe: child reads it', 'child runs echo (decode, run, encode)', 'pipe: worker reads the outcome'].reduce((s, l) => s + (r.prefork.segmentsUs[l] ?? 0), 0);
  lines.push('', `prefork − async: ${us(r.prefork.totalUs - r.async.totalUs)}; the child's part (pipe there, run, pipe back): ${us(child)} · ${r.prefork.calls} + ${r.async.calls} calls · publisher confirms ${r.confirms ? 'on' : 'off (the “confirmed” row is then when the publish was written)'} · load ${r.load.toFixed(2)}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((err: Error & { code?: unknown }) => {
  // A lab or system error (a code: broker unreachable, ECONNREFUSED…) says what is wrong in its message; else a bug.
  process.stderr.write(`echo-trace: ${typeof err.code === 'string' ? err.message : (err.stack ?? err.message)}\n`);
  process.exit(1);
});
