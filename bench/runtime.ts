/**
 * Runtime benchmark, in ONE run on the same RabbitMQ + Redis (issue 3):
 *  (a) a raw floor — amqplib publish → a consumer process → Redis PUBLISH → the client; no protocol, no backend layout;
 *  (a′) the Celery-peer floor (bench/celery-floor.ts, issue 13): what a Celery peer must do and nothing more; its echo
 *       calls are interleaved with lab's (paired), its fan-out rounds alternated with lab's prefork and async pools',
 *       CPU time per task of each;
 *  (b) this runtime — a lab App client and `lab worker` as a child process (prefork pool, -c 2);
 *  (c) Python Celery 5.2 — a Python client and `celery worker -c 2` (prefork); and a lab client ↔ the Python worker.
 * Figures: echo round trip with one task in flight (median, p99 over ≥ 2,000 calls after a warm-up); fan-out of
 * 20,000 echo tasks with results (tasks/s); worker idle RSS (the worker and its pool children; RSS and PSS);
 * distributed mergesort n=4 of 1,000,000 ints with JSON (lab client + lab worker), beside the same chunks sorted by
 * worker threads with no broker (the floor of any distributed design on this machine).
 *
 *   npm run bench:runtime                 (build, then node dist/bench/runtime.js)
 *   node dist/bench/runtime.js --calls 2000 --warmup 200 --fanout 20000 --rounds 3 --sort-repeat 5 [--no-python] [--json]
 *   … --serializer msgpack: lab's clients send application/x-msgpack bodies and the lab worker stores msgpack
 *   results (default json); node dist/bench/serializers.js compares the two codecs' payload cost in one run.
 *
 * Workers log at WARNING (per-task INFO lines are not what is measured); both kinds alike.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { connect } from 'amqplib';
import { Redis } from 'ioredis';
import { App } from '../lab/queue/index.js';
import { summarize } from '../lab/report/statistics.js';
import type { Summary } from '../lab/report/statistics.js';
import { formatMs, formatRatio } from '../lab/report/format.js';
import { noWorkerGroups } from '../lab/harness/worker-groups.js';
import { CeleryFloorClient, celeryFloorConsumer } from './celery-floor.js';
import { cpuMsOf, memoryOf } from './proc-stats.js';
import { AMQP, REDIS, REPO, consumerAttached, sleep, startLabWorker, startProcess } from './bench-process.js';
import { labFanout } from './lab-fanout.js';
import type { FloorClientMode } from './celery-floor.js';

const PY_DIR = join(REPO, 'bench', 'python');
const PYTHON = process.env.LAB_BENCH_PYTHON ?? '/usr/bin/python3';

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

const CALLS = flag('calls', 2000);
const WARMUP = flag('warmup', 200);
const FANOUT = flag('fanout', 20_000);
/**
 * Seconds a worker stays idle before its memory is read a second time (0: skip). Two seconds after start a process
 * still holds its start-up garbage; V8's memory reducer gives it back after some idle seconds. Both readings are
 * reported; the goals are judged on the settled one, the state a worker spends its idle time in.
 */
const SETTLE_S = flag('settle', 30);
const SORT_REPEAT = flag('sort-repeat', 5);
/** Fan-out rounds of the Celery-peer floor and lab's prefork pool, alternated (paired: the same noise for both). */
const ROUNDS = flag('rounds', 3);
const CONCURRENCY = 2;
const PREFETCH = CONCURRENCY * 4; // Celery's default window (concurrency × prefetch multiplier 4), for every worker
const RUN = randomBytes(3).toString('hex');
const SERIALIZER = process.argv.includes('--serializer') ? process.argv[process.argv.indexOf('--serializer') + 1] : 'json';
if (SERIALIZER !== 'json' && SERIALIZER !== 'msgpack') throw new Error(`--serializer: expected json or msgpack, got ${String(SERIALIZER)}`);

// ---------------------------------------------------------------- the raw floor's consumer (a child process)

async function floorConsumer(queue: string, channel: string): Promise<void> {
  const conn = await connect(AMQP);
  const ch = await conn.createChannel();
  await ch.prefetch(PREFETCH, true);
  const redis = new Redis(REDIS);
  await ch.consume(
    queue,
    (m) => {
      if (!m) return;
      ch.ack(m);
      void redis.publish(channel, m.content);
    },
    { noAck: false },
  );
  process.stdout.write('ready\n');
  process.on('SIGTERM', () => {
    void conn.close().finally(() => {
      redis.disconnect();
      process.exit(0);
    });
  });
}

// ---------------------------------------------------------------- measurements

interface Figures {
  latency?: Summary;
  fanoutMs?: number;
  throughput?: number;
  memory?: ReturnType<typeof memoryOf>;
  /** The same, after SETTLE_S seconds more of idleness. */
  memorySettled?: ReturnType<typeof memoryOf>;
  /** CPU time per 1,000 fan-out tasks (ms): this client process, and the worker with its pool children. */
  cpuPer1k?: { client: number; worker: number };
  note?: string;
}

async function measureLatency(call: () => Promise<unknown>): Promise<Summary> {
  for (let i = 0; i < WARMUP; i++) await call();
  const samples: number[] = [];
  for (let i = 0; i < CALLS; i++) {
    const t0 = performance.now();
    await call();
    samples.push(performance.now() - t0);
  }
  return summarize(samples);
}

async function floor(): Promise<Figures> {
  const queue = `bench-floor-${RUN}`;
  const channel = `bench-floor-${RUN}`;
  const conn = await connect(AMQP);
  const ch = await conn.createChannel();
  await ch.assertQueue(queue, { durable: true, exclusive: false, autoDelete: false });
  const consumer = startProcess(process.execPath, [fileURLToPath(import.meta.url), '--floor-consumer', queue, channel]);
  const sub = new Redis(REDIS);
  const waiters = new Map<string, () => void>();
  sub.on('message', (_c: string, id: string) => {
    const w = waiters.get(id);
    if (w) {
      waiters.delete(id);
      w();
    }
  });
  await sub.subscribe(channel);
  try {
    while (!consumer.out().includes('ready')) await sleep(20);
    const send = async (): Promise<void> => {
      const id = randomUUID();
      const done = new Promise<void>((r) => waiters.set(id, r));
      if (!ch.publish('', queue, Buffer.from(id), { persistent: true, correlationId: id, contentType: 'application/json' })) await once(ch, 'drain');
      await done;
    };
    const latency = await measureLatency(send);
    const t0 = performance.now();
    const all: Promise<void>[] = [];
    for (let i = 0; i < FANOUT; i++) {
      const id = randomUUID();
      all.push(new Promise<void>((r) => waiters.set(id, r)));
      if (!ch.publish('', queue, Buffer.from(id), { persistent: true, correlationId: id, contentType: 'application/json' })) await once(ch, 'drain');
    }
    await Promise.all(all);
    const fanoutMs = performance.now() - t0;
    return { latency, fanoutMs, throughput: FANOUT / (fanoutMs / 1000), memory: memoryOf(consumer.pid) };
  } finally {
    await consumer.stop();
    await ch.deleteQueue(queue).catch(() => undefined);
    await conn.close().catch(() => undefined);
    sub.disconnect();
  }
}

function clientApp(name: string, queue: string, confirmPublish = true): App {
  return new App(name, { broker: AMQP, backend: REDIS, config: { task_default_queue: queue, result_expires: 600, task_serializer: SERIALIZER, broker_transport_options: { confirm_publish: confirmPublish } } });
}

/** One echo round trip through a lab client (its id kept, to forget the result afterwards). */
async function labEcho(app: App, ids: string[]): Promise<void> {
  const r = await app.sendTask('test.echo', ['Python rocks!']);
  await r.get({ timeout: 30 });
  ids.push(r.id);
}

/** The worker stores with its task module's result_expires (a day): take the round trips' results away now. */
async function forgetAll(app: App, ids: string[]): Promise<void> {
  const backend = await app.getBackend();
  await Promise.all(ids.splice(0).map((id) => backend.forget(id)));
}

/** Echo latency through a lab client to whatever worker serves `queue`. */
async function labLatency(app: App): Promise<Summary> {
  const ids: string[] = [];
  const latency = await measureLatency(() => labEcho(app, ids));
  await forgetAll(app, ids);
  return latency;
}

/** Echo latency and fan-out through a lab client to whatever worker serves `queue`. */
async function labClient(app: App): Promise<Pick<Figures, 'latency' | 'fanoutMs' | 'throughput'>> {
  const latency = await labLatency(app);
  const fanoutMs = await labFanout(app, FANOUT);
  return { latency, fanoutMs, throughput: FANOUT / (fanoutMs / 1000) };
}

/**
 * Latency of several clients measured as pairs: call i of each, in an order that rotates, so a burst of load on
 * this shared machine lands on all of them alike.
 */
async function pairedLatency(calls: Record<string, () => Promise<unknown>>): Promise<Record<string, Summary>> {
  const names = Object.keys(calls);
  for (let i = 0; i < WARMUP; i++) for (const n of names) await calls[n]();
  const samples: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let i = 0; i < CALLS; i++) {
    for (let k = 0; k < names.length; k++) {
      const n = names[(i + k) % names.length];
      const t0 = performance.now();
      await calls[n]();
      samples[n].push(performance.now() - t0);
    }
  }
  return Object.fromEntries(names.map((n) => [n, summarize(samples[n])]));
}

/** The Celery-peer floor's figures: the reference (overlapped SUBSCRIBE + confirmed publish) and its variants. */
interface CeleryFloorFigures extends Figures {
  sequential?: Summary;
  noConfirm?: Summary;
  /** tasks/s of each fan-out round (the reported throughput is their median). */
  rounds?: number[];
}

function median(xs: number[]): number {
  return summarize(xs).median;
}

/** A node process that loads nothing, idle: what every process of a pool costs before any lab code. */
async function bareNodeMemory(): Promise<ReturnType<typeof memoryOf>> {
  const bare = startProcess(process.execPath, ['-e', 'setInterval(() => undefined, 60_000)']);
  try {
    await sleep(2000);
    return memoryOf(bare.pid);
  } finally {
    await bare.stop();
  }
}

/**
 * What memory the OS has not yet handed this process costs here: a new array of 1,000,000 numbers (8 MB, about
 * 2,000 pages, each faulted in on first touch) against the same copy into an array already in memory. On a VM whose
 * host takes freed pages back (free page reporting), a fault is dear, and every large array, string or buffer on
 * mergesort's distributed path pays it — the local sort far less often. Median of 5.
 */
function freshPageCost(): { freshMs: number; reusedMs: number; faults: number; usPerFault: number } {
  const half = Array.from({ length: 500_000 }, (_, i) => i);
  const reused = half.concat(half);
  const fresh: number[] = [];
  const again: number[] = [];
  const faults: number[] = [];
  const copy = (from: number[]): void => {
    for (let i = 0; i < from.length; i++) reused[i] = from[i];
  };
  for (let r = 0; r < 3; r++) copy(half); // the loop optimized first: concat is a builtin, it needs no warming
  for (let r = 0; r < 5; r++) {
    const pf = process.resourceUsage().minorPageFault;
    let t = performance.now();
    const a = half.concat(half);
    fresh.push(performance.now() - t);
    faults.push(process.resourceUsage().minorPageFault - pf);
    t = performance.now();
    copy(a);
    again.push(performance.now() - t);
  }
  const freshMs = median(fresh);
  const reusedMs = median(again);
  const f = median(faults);
  return { freshMs, reusedMs, faults: f, usPerFault: f > 0 ? ((freshMs - reusedMs) * 1000) / f : 0 };
}

/** The worker's memory after SETTLE_S more idle seconds (the first reading again when 0). */
async function settledMemory(pid: number): Promise<Figures['memory']> {
  if (SETTLE_S <= 0) return memoryOf(pid);
  process.stderr.write(`      idle ${SETTLE_S} s, then its memory again…\n`);
  await sleep(SETTLE_S * 1000);
  return memoryOf(pid);
}

/**
 * The same lab worker with the other pools: one process (threads: worker threads; async: the event loop). `fanout`
 * false: echo and memory only (the async pool's fan-out is timed in labRuntime's alternated rounds).
 */
async function labPool(pool: 'threads' | 'async', fanout = true): Promise<Figures> {
  const queue = `bench-lab-${pool}-${RUN}`;
  const app = clientApp(`bench-lab-${pool}`, queue);
  const worker = startLabWorker(queue, { pool, concurrency: CONCURRENCY });
  try {
    await consumerAttached(app, queue, worker);
    await sleep(2000);
    const memory = memoryOf(worker.pid);
    const memorySettled = await settledMemory(worker.pid);
    return { ...(fanout ? await labClient(app) : { latency: await labLatency(app) }), memory, memorySettled };
  } finally {
    await worker.stop();
    const broker = await app.getBroker().catch(() => null);
    await broker?.deleteQueue(queue).catch(() => undefined);
    await app.close();
  }
}

/** A lab pool's fan-out rounds, alternated with the floor's: tasks/s of each round and CPU time per 1,000 tasks. */
interface LabRounds {
  rounds: number[];
  cpuPer1k: { client: number; worker: number };
}

async function labRuntime(): Promise<{ figures: Figures & LabRounds; celeryFloor: CeleryFloorFigures; asyncRounds: LabRounds; noConfirm: Figures; sort: SortFigures }> {
  const queue = `bench-lab-${RUN}`;
  const asyncQueue = `bench-lab-async-rounds-${RUN}`;
  const floorQueue = `bench-celery-floor-${RUN}`;
  const app = clientApp('bench-lab', queue);
  const asyncApp = clientApp('bench-lab-async-rounds', asyncQueue);
  const fast = clientApp('bench-lab-no-confirm', queue, false);
  const worker = startLabWorker(queue, { concurrency: CONCURRENCY, args: ['-A', 'mergesort', '--result-serializer', SERIALIZER] });
  const asyncWorker = startLabWorker(asyncQueue, { pool: 'async', concurrency: CONCURRENCY });
  const floorWorker = startProcess(process.execPath, [fileURLToPath(import.meta.url), '--celery-floor-consumer', floorQueue]);
  let floorClient: CeleryFloorClient | null = null;
  let floorFast: CeleryFloorClient | null = null;
  try {
    floorClient = await CeleryFloorClient.open(AMQP, REDIS, floorQueue, true);
    floorFast = await CeleryFloorClient.open(AMQP, REDIS, floorQueue, false);
    await consumerAttached(app, queue, worker);
    await consumerAttached(app, floorQueue, floorWorker);
    await consumerAttached(asyncApp, asyncQueue, asyncWorker);
    await sleep(2000);
    const memory = memoryOf(worker.pid);
    const floorMemory = memoryOf(floorWorker.pid);
    const memorySettled = await settledMemory(worker.pid);
    // The floor's consumer idled as long beside it: the same moment, for the three-process floor below.
    const floorMemorySettled = SETTLE_S > 0 ? memoryOf(floorWorker.pid) : floorMemory;
    const fc = floorClient;
    const ff = floorFast;
    const ids: string[] = [];
    const floorCall = (mode: FloorClientMode, c = fc) => async (): Promise<void> => {
      if ((await c.call('Python rocks!', mode)) !== 'Python rocks!') throw new Error('celery floor: wrong echo');
    };
    process.stderr.write('      echo, paired: Celery-peer floor ↔ lab prefork…\n');
    const paired = await pairedLatency({ floor: floorCall('overlapped'), lab: () => labEcho(app, ids) });
    await forgetAll(app, ids);
    const sequential = await measureLatency(floorCall('sequential'));
    const floorNoConfirm = await measureLatency(floorCall('overlapped', ff));
    process.stderr.write(`      fan-out ${FANOUT} × ${ROUNDS} rounds, alternated: floor, prefork, async…\n`);
    const floorRounds: number[] = [];
    const labRounds: number[] = [];
    const asyncRounds: number[] = [];
    // CPU time is what a saturated machine divides among its processes: per task, it does not depend on the load.
    const floorCpu = { client: 0, worker: 0 };
    const labCpu = { client: 0, worker: 0 };
    const asyncCpu = { client: 0, worker: 0 };
    const cpuOf = async (tally: { client: number; worker: number }, pid: number, run: () => Promise<number>): Promise<number> => {
      const c0 = process.cpuUsage();
      const w0 = cpuMsOf(pid);
      const ms = await run();
      const c = process.cpuUsage(c0);
      tally.client += (c.user + c.system) / 1000 / ((FANOUT * ROUNDS) / 1000);
      tally.worker += (cpuMsOf(pid) - w0) / ((FANOUT * ROUNDS) / 1000);
      return ms;
    };
    for (let r = 0; r < ROUNDS; r++) {
      const ms = await cpuOf(floorCpu, floorWorker.pid, async () => {
        const t0 = performance.now();
        const out = await fc.fanout(FANOUT);
        if (out.length !== FANOUT || out.some((v, i) => v !== i)) throw new Error('celery floor: fan-out results missing or out of order');
        return performance.now() - t0;
      });
      floorRounds.push(FANOUT / (ms / 1000));
      labRounds.push(FANOUT / ((await cpuOf(labCpu, worker.pid, () => labFanout(app, FANOUT))) / 1000));
      asyncRounds.push(FANOUT / ((await cpuOf(asyncCpu, asyncWorker.pid, () => labFanout(asyncApp, FANOUT))) / 1000));
    }
    const floorThr = median(floorRounds);
    const labThr = median(labRounds);
    const celeryFloor: CeleryFloorFigures = { latency: paired.floor, fanoutMs: (FANOUT / floorThr) * 1000, throughput: floorThr, memory: floorMemory, memorySettled: floorMemorySettled, sequential, noConfirm: floorNoConfirm, rounds: floorRounds, cpuPer1k: floorCpu };
    const figures = { latency: paired.lab, fanoutMs: (FANOUT / labThr) * 1000, throughput: labThr, memory, memorySettled, rounds: labRounds, cpuPer1k: labCpu };
    const noConfirm: Figures = await labClient(fast);
    const sort = await mergesort(queue);
    return { figures, celeryFloor, asyncRounds: { rounds: asyncRounds, cpuPer1k: asyncCpu }, noConfirm, sort };
  } finally {
    await Promise.all([worker.stop(), asyncWorker.stop(), floorWorker.stop()]);
    const broker = await app.getBroker().catch(() => null);
    await broker?.deleteQueue(queue).catch(() => undefined);
    await broker?.deleteQueue(asyncQueue).catch(() => undefined);
    await floorClient?.close(true);
    await floorFast?.close();
    await Promise.all([app.close(), asyncApp.close(), fast.close()]);
  }
}

/** mergesort's figures per mode (below). */
interface SortFigures {
  distributed: Summary;
  local: Summary;
  parallel: Summary;
}

/**
 * mergesort n=4 of 1M ints, timed per mode in alternation: local (one sort on the master), distributed (the lab's
 * queue), and parallel — the same chunks sorted by worker threads on the master with no broker, the book's
 * multiprocessing comparison. Parallel is the floor of any distributed design on this machine: the same split,
 * sorts and merge on the same CPUs, minus serialization, broker and backend.
 */
async function mergesort(queue: string): Promise<SortFigures> {
  const { mergesortScenario } = await import('../scenarios/mergesort/mergesort.js');
  const app = await mergesortScenario.app();
  app.configFromObject({ broker_url: AMQP, result_backend: REDIS, task_default_queue: queue, result_expires: 600, task_serializer: SERIALIZER });
  const params = { n: 4, size: 1_000_000, seed: 1 };
  const fixture = await mergesortScenario.prepare(params);
  const ctx = { app, lab: {} as never, signal: new AbortController().signal, quotesUrl: null, timeoutS: 120, queue, workers: noWorkerGroups, env: undefined as unknown };
  ctx.env = await mergesortScenario.setUp!(params, fixture, ctx);
  // The sorted chunks (1.6 MB each) would stay in Redis for the worker's result_expires (a day): forget them.
  const sent: { forget(): Promise<void> }[] = [];
  const sendGroup = app.sendGroup.bind(app);
  app.sendGroup = (async (...args: Parameters<App['sendGroup']>) => {
    const g = await sendGroup(...args);
    sent.push(g);
    return g;
  }) as App['sendGroup'];
  const times: Record<'local' | 'distributed' | 'parallel', number[]> = { local: [], distributed: [], parallel: [] };
  try {
    for (let i = 0; i <= SORT_REPEAT; i++) {
      for (const mode of ['local', 'distributed', 'parallel'] as const) {
        const t0 = performance.now();
        const r = await mergesortScenario.run(mode, params, fixture, ctx);
        const ms = performance.now() - t0;
        const verdict = mergesortScenario.verify(params, fixture, r.output, mode);
        if (!verdict.ok) throw new Error(`mergesort ${mode}: ${verdict.detail}`);
        if (i > 0) times[mode].push(ms);
        await Promise.all(sent.splice(0).map((g) => g.forget()));
      }
    }
  } finally {
    await mergesortScenario.tearDown?.(params, fixture, ctx);
    await app.close();
  }
  return { distributed: summarize(times.distributed), local: summarize(times.local), parallel: summarize(times.parallel) };
}

function python(args: string[], queue: string): unknown {
  const out = execFileSync(PYTHON, args, {
    cwd: PY_DIR,
    env: { ...process.env, BENCH_BROKER: AMQP, BENCH_BACKEND: REDIS, BENCH_QUEUE: queue, PYTHONDONTWRITEBYTECODE: '1' },
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    timeout: 900_000,
  });
  return JSON.parse(out.trim().split('\n').pop() ?? 'null');
}

async function pythonCelery(): Promise<{ py: Figures; labToPy: Figures }> {
  const queue = `bench-py-${RUN}`;
  const app = clientApp('bench-lab-to-py', queue);
  const worker = startProcess(PYTHON, ['-m', 'celery', '-A', 'celery_bench', 'worker', '-Q', queue, '-c', String(CONCURRENCY), '-P', 'prefork', '--loglevel', 'warning', '--without-mingle', '--without-gossip', '--without-heartbeat', '-n', `bench-${RUN}@%h`], {
    cwd: PY_DIR,
    env: { BENCH_BROKER: AMQP, BENCH_BACKEND: REDIS, BENCH_QUEUE: queue, PYTHONDONTWRITEBYTECODE: '1' },
  });
  try {
    await consumerAttached(app, queue, worker);
    await sleep(2000);
    const memory = memoryOf(worker.pid);
    const lat = python(['celery_bench.py', 'latency', String(CALLS), String(WARMUP)], queue) as { samples_ms: number[] };
    const fan = python(['celery_bench.py', 'fanout', String(FANOUT)], queue) as { total_ms: number };
    const py: Figures = { latency: summarize(lat.samples_ms), fanoutMs: fan.total_ms, throughput: FANOUT / (fan.total_ms / 1000), memory };
    const labToPy: Figures = await labClient(app);
    return { py, labToPy };
  } finally {
    await worker.stop();
    const broker = await app.getBroker().catch(() => null);
    await broker?.deleteQueue(queue).catch(() => undefined);
    await app.close();
  }
}

function pythonAvailable(): string | null {
  if (process.argv.includes('--no-python')) return 'skipped (--no-python)';
  if (!existsSync(PYTHON)) return `${PYTHON} not found`;
  try {
    execFileSync(PYTHON, ['-c', 'import celery, redis'], { stdio: 'pipe' });
    return null;
  } catch {
    return `${PYTHON} cannot import celery and redis (apt-get install -y python3-celery python3-redis)`;
  }
}

// ---------------------------------------------------------------- report

function row(cells: string[], widths: number[]): string {
  return cells.map((c, i) => c.padEnd(widths[i])).join('  ');
}

async function main(): Promise<void> {
  if (process.argv[2] === '--celery-floor-consumer') {
    const stop = await celeryFloorConsumer(AMQP, REDIS, process.argv[3], PREFETCH, 600);
    process.stdout.write('ready\n');
    process.on('SIGTERM', () => void stop().finally(() => process.exit(0)));
    return;
  }
  if (process.argv[2] === '--floor-consumer') {
    await floorConsumer(process.argv[3], process.argv[4]);
    return;
  }
  if (process.argv.includes('--floor-only')) {
    // For profiling the floor on its own (e.g. its CPU split between client, consumer, RabbitMQ and Redis).
    const f = await floor();
    process.stdout.write(`floor: median ${formatMs(f.latency!.median)}, p99 ${formatMs(f.latency!.p99)}, ${f.throughput!.toFixed(0)} tasks/s\n`);
    return;
  }
  const t0 = Date.now();
  process.stderr.write(`runtime benchmark (lab's serializer: ${SERIALIZER}): ${CALLS} sequential calls after ${WARMUP} warm-up, fan-out ${FANOUT}, mergesort ×${SORT_REPEAT}\n`);
  process.stderr.write('  (a) raw floor…\n');
  const f = await floor();
  process.stderr.write('  (a′, b) Celery-peer floor and lab runtime, paired…\n');
  const lab = await labRuntime();
  process.stderr.write('  (b) lab runtime, threads and async pools…\n');
  const threads = await labPool('threads');
  const asyncEcho = await labPool('async', false);
  const bareNode = await bareNodeMemory();
  const pages = freshPageCost();
  // Its fan-out: the median of the rounds alternated with the floor's (paired, as prefork's).
  const asyncThr = median(lab.asyncRounds.rounds);
  const asyncPool: Figures = { ...asyncEcho, throughput: asyncThr, fanoutMs: (FANOUT / asyncThr) * 1000 };
  const pyMissing = pythonAvailable();
  let py: Figures = { note: pyMissing ?? undefined };
  let labToPy: Figures = { note: pyMissing ?? undefined };
  if (!pyMissing) {
    process.stderr.write('  (c) Python Celery 5.2…\n');
    ({ py, labToPy } = await pythonCelery());
  }
  const l = lab.figures;
  const cf = lab.celeryFloor;
  const latRatio = l.latency!.median / cf.latency!.median;
  const p99Ratio = l.latency!.p99 / cf.latency!.p99;
  const thrCf = l.throughput! / cf.throughput!;
  const asyncCf = asyncPool.throughput! / cf.throughput!;
  const nc = lab.noConfirm;
  const thrPy = py.throughput ? l.throughput! / py.throughput : NaN;
  const asyncPy = py.throughput ? asyncPool.throughput! / py.throughput : NaN;
  const rows: string[][] = [['', 'echo median', 'echo p99', 'fan-out ' + FANOUT, 'tasks/s', 'worker RSS (PSS)']];
  const fmtMem = (m?: Figures['memory']): string => (m ? `${m.rssMb.toFixed(1)} MB (${m.pssMb.toFixed(1)} MB), ${m.processes} proc` : '—');
  for (const [name, x] of [
    ['(a) raw floor: amqplib → consumer → Redis PUBLISH', f],
    ['(a′) Celery-peer floor: v2 + confirms + SETEX/PUBLISH', cf],
    ['     same, SUBSCRIBE → confirmed publish → wait in sequence', { latency: cf.sequential }],
    ['     same, without publisher confirms', { latency: cf.noConfirm }],
    ['(b) lab client + lab worker (prefork -c 2)', l],
    ['    same, confirm_publish=False (kombu’s default)', lab.noConfirm],
    ['    lab worker -P threads -c 2 (one process)', threads],
    ['    lab worker -P async -c 2 (one process)', asyncPool],
    ['(c) Python client + Celery 5.2 worker (prefork -c 2)', py],
    ['    lab client + Celery 5.2 worker', labToPy],
  ] as [string, Figures][]) {
    rows.push([name, formatMs(x.latency?.median), formatMs(x.latency?.p99), x.fanoutMs ? formatMs(x.fanoutMs) : (x.note ?? '—'), x.throughput ? x.throughput.toFixed(0) : '—', fmtMem(x.memory)]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const s = lab.sort;
  const sortRatio = s.distributed.median / s.local.median;
  const parallelRatio = s.parallel.median / s.local.median;
  const am = asyncPool.memorySettled ?? asyncPool.memory!;
  const lm = l.memorySettled ?? l.memory!;
  // A prefork pool is three processes: a consumer with the broker's and the store's clients, and two idle children.
  const preforkFloorMb = (cf.memorySettled ?? cf.memory!).rssMb + 2 * bareNode.rssMb;
  const at2 = (m: Figures['memory']): string => `${m!.rssMb.toFixed(1)} MB RSS, ${m!.pssMb.toFixed(1)} MB PSS 2 s after start`;
  // Each process's RSS and its anonymous share: the rest is mapped files (the node binary), counted in every process.
  const each = (m: Figures['memory']): string => `each ${m!.rssEachMb.map((x) => x.toFixed(0)).join(' + ')} MB, of it anonymous ${m!.anonEachMb.map((x) => x.toFixed(0)).join(' + ')} MB`;
  const goals: [string, string, boolean | null][] = [
    ['echo median ≤ 1.2× the Celery-peer floor (confirms on, paired)', `${formatRatio(latRatio)} (${formatMs(l.latency!.median)} vs ${formatMs(cf.latency!.median)})`, latRatio <= 1.2],
    ['echo p99 ≤ 1.5× the Celery-peer floor’s p99', `${formatRatio(p99Ratio)} (${formatMs(l.latency!.p99)} vs ${formatMs(cf.latency!.p99)})`, p99Ratio <= 1.5],
    ['fan-out, prefork -c 2 ≥ 0.8× the Celery-peer floor (median of alternated rounds)', `${formatRatio(thrCf)} (${l.throughput!.toFixed(0)} vs ${cf.throughput!.toFixed(0)} tasks/s; rounds lab ${l.rounds.map((x) => x.toFixed(0)).join('/')}, floor ${cf.rounds!.map((x) => x.toFixed(0)).join('/')})`, thrCf >= 0.8],
    ['fan-out, async pool ≥ 0.9× the Celery-peer floor (median of alternated rounds)', `${formatRatio(asyncCf)} (${asyncPool.throughput!.toFixed(0)} vs ${cf.throughput!.toFixed(0)} tasks/s; rounds async ${lab.asyncRounds.rounds.map((x) => x.toFixed(0)).join('/')})`, asyncCf >= 0.9],
    [`prefork -c 2 idle (${SETTLE_S} s): RSS ≤ 140 MB in all, PSS ≤ 60 MB`, `${lm.rssMb.toFixed(1)} MB RSS, ${lm.pssMb.toFixed(1)} MB PSS (${lm.processes} processes, ${each(lm)}; ${at2(l.memory)}; a bare node ${bareNode.rssMb.toFixed(0)} MB, of it anonymous ${bareNode.anonEachMb[0].toFixed(0)} MB; the floor of any three-process design, the Celery-peer floor's consumer + two bare nodes: ${preforkFloorMb.toFixed(1)} MB)`, lm.rssMb <= 140 && lm.pssMb <= 60],
    [`async pool idle (${SETTLE_S} s): RSS ≤ 60 MB`, `${am.rssMb.toFixed(1)} MB RSS (${am.pssMb.toFixed(1)} MB PSS, of it anonymous ${am.anonEachMb[0].toFixed(0)} MB; ${at2(asyncPool.memory)})`, am.rssMb <= 60],
    ['mergesort 1M, n=4, distributed/local ≤ 1.0 (lab client + worker on this machine’s RabbitMQ + Redis)', `${formatRatio(sortRatio)} (the same chunks on worker threads with no queue at all: ${formatRatio(parallelRatio)})`, sortRatio <= 1.0],
  ];
  const lines: string[] = [];
  lines.push(`lab runtime benchmark · node ${process.version} · ${cpus().length} × ${cpus()[0]?.model.trim() ?? '?'} · RabbitMQ + Redis on this machine · load ${loadavg().map((x) => x.toFixed(1)).join(' ')} · ${new Date().toISOString()}`);
  lines.push('');
  for (const r of rows) lines.push(row(r, widths));
  lines.push('');
  lines.push(`mergesort n=4 of 1,000,000 ints, ${SERIALIZER}, lab client + lab worker: distributed ${formatMs(s.distributed.median)} ± ${formatMs(s.distributed.mad)} (min ${formatMs(s.distributed.min)}), local ${formatMs(s.local.median)}, parallel (worker threads on the master, no broker) ${formatMs(s.parallel.median)} ± ${formatMs(s.parallel.mad)}; distributed/local ${formatRatio(sortRatio)}, parallel/local ${formatRatio(parallelRatio)} (n=${s.distributed.n})`);
  lines.push(`a new array of 1,000,000 numbers here: ${formatMs(pages.freshMs)} (${pages.faults} page faults, ${pages.usPerFault.toFixed(1)} µs each), the same copy into one already in memory ${formatMs(pages.reusedMs)}`);
  lines.push(`CPU time per 1,000 fan-out tasks (client / worker with its pool): Celery-peer floor ${cf.cpuPer1k!.client.toFixed(0)} / ${cf.cpuPer1k!.worker.toFixed(0)} ms, lab prefork ${l.cpuPer1k.client.toFixed(0)} / ${l.cpuPer1k.worker.toFixed(0)} ms, lab async ${lab.asyncRounds.cpuPer1k.client.toFixed(0)} / ${lab.asyncRounds.cpuPer1k.worker.toFixed(0)} ms (RabbitMQ's and Redis's own not counted)`);
  lines.push(`ratios to the raw floor: latency ${formatRatio(l.latency!.median / f.latency!.median)}, throughput ${formatRatio(l.throughput! / f.throughput!)}; Celery-peer floor / raw floor: latency ${formatRatio(cf.latency!.median / f.latency!.median)}, throughput ${formatRatio(cf.throughput! / f.throughput!)}`);
  if (py.latency) {
    lines.push(`ratios to Python Celery: prefork throughput ${formatRatio(thrPy)}, async throughput ${formatRatio(asyncPy)}, latency ${formatRatio(l.latency!.median / py.latency.median)}; lab-client→Python-worker vs Python→Python throughput ${formatRatio(labToPy.throughput! / py.throughput!)}`);
  }
  lines.push(`without publisher confirms (broker_transport_options={'confirm_publish': False}): lab latency ${formatMs(nc.latency!.median)} vs the floor’s ${formatMs(cf.noConfirm!.median)} (${formatRatio(nc.latency!.median / cf.noConfirm!.median)}), throughput ${nc.throughput!.toFixed(0)} tasks/s`);
  lines.push('');
  for (const [goal, got, ok] of goals) lines.push(`${ok === null ? 'N/A ' : ok ? 'MET ' : 'MISS'}  ${goal}: ${got}`);
  lines.push('');
  lines.push(`(${((Date.now() - t0) / 1000).toFixed(0)} s; goals judged on lab's defaults (publisher confirms on); the raw floor and Python publish without confirms; workers log at WARNING; PSS splits shared pages among the processes sharing them)`);
  process.stdout.write(`${lines.join('\n')}\n`);
  if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify({ floor: f, celeryFloor: cf, lab: l, labNoConfirm: nc, threads, async: asyncPool, python: py, labToPython: labToPy, mergesort: s, freshPages: pages, bareNode, preforkFloorMb, goals })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/runtime: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
