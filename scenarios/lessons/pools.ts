/**
 * The book's advice on worker pools: prefork (`-c N`, one process per slot) by default; for I/O-bound tasks
 * threads or coroutines (`-P threads`), which save resources but do not help CPU-bound work. This lesson runs the
 * same I/O-bound work (currency.get_rate against a quote server with a per-request latency) and the same CPU-bound
 * work (mergesort.sort chunks) on three worker groups — prefork -c N, threads -c M, async -c M — and judges which
 * pool fits which work.
 *
 * In Node the mapping differs from Python's in one place, and the lesson says so: lab's threads pool runs tasks on
 * worker threads, which execute JavaScript in parallel (there is no GIL); the async pool (one event loop, Python's
 * gevent/eventlet) is the one that runs CPU-bound tasks one at a time. The verdict judges the I/O rule only (see
 * judge()); the CPU-bound times are in the same table, reported.
 */
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { AsyncResult, PoolKind } from '../../lab/queue/index.js';
import { DEFAULT_PAIRS, quotePrice } from '../../lab/services/quotes.js';
import { formatMs, formatRatio } from '../../lab/report/format.js';
import type { ModeStats, Verdict } from '../../lab/report/run-record.js';
import type { Scenario, WorkerGroup } from '../scenario.js';
import { shuffledRange, split } from '../mergesort/mergesort.js';
import { deleteQueues, forget, lessonQueue, quotesUrl, send } from './common.js';

export interface PoolsParams extends Record<string, unknown> {
  procs: number;
  threads: number;
  requests: number;
  latency: number;
  chunks: number;
  size: number;
}

interface Fixture {
  chunks: number[][];
  pairs: string[];
}

const POOLS: readonly PoolKind[] = ['prefork', 'async', 'threads'];

interface Env {
  queues: Record<PoolKind, string>;
  groups: Record<PoolKind, WorkerGroup>;
  /** The latest figures of each pool in this point, for the one table the candidate's output carries. */
  latest: Partial<Record<PoolKind, PoolFigures>>;
}

export interface PoolFigures {
  pool: PoolKind;
  concurrency: number;
  ioMs: number;
  cpuMs: number;
}

export interface PoolsOutput extends PoolFigures {
  ratesOk: boolean;
  sortedOk: boolean;
  /** Every pool's latest figures in this point (filled in by the time the last mode ran). */
  table: PoolFigures[];
}

async function timed(rs: Promise<AsyncResult[]>, timeoutS: number, signal: AbortSignal): Promise<{ values: unknown[]; results: AsyncResult[] }> {
  const results = await rs;
  const values = await Promise.all(results.map((r) => r.get({ timeout: timeoutS, signal })));
  return { values, results };
}

/** Celery's default -c is the CPU count; capped so the I/O comparison keeps several waves of requests. */
const DEFAULT_PROCS = Math.max(1, Math.min(availableParallelism(), 4));

export const poolsLesson: Scenario<PoolsParams, Fixture, PoolsOutput> = {
  name: 'pools',
  summary: 'lesson: which worker pool fits which work — prefork for CPU-bound tasks, threads (or async) for I/O-bound ones',
  description:
    "The book: Celery's workers are processes (prefork, -c N); for I/O-bound tasks use threads or coroutines " +
    '(-P threads), which do not help CPU-bound work. Three worker groups run the same work in turn: --requests ' +
    'rate fetches with --latency ms each (I/O-bound) and --size integers sorted in --chunks chunks (CPU-bound), on ' +
    'prefork -c --procs, async -c --threads and threads -c --threads. Checked: on I/O, threads and async finish ' +
    'sooner than prefork (more requests in flight than prefork has processes). Reported beside it, not judged: ' +
    'the CPU-bound times — the async pool runs CPU-bound tasks one at a time on its event loop; lab\'s threads ' +
    'pool, unlike Python\'s, runs JavaScript in parallel (worker threads, no GIL); and how much parallelism pays ' +
    'depends on the free cores of the workers host and on the cost of moving each chunk.',
  examples: [
    ['$0 run pools', 'the three pools on both kinds of work'],
    ['$0 run pools --procs 4 --threads 32 --requests 64 --repeat 3', 'a larger I/O fan-out, three repeats'],
  ],
  params: {
    procs: { type: 'int', describe: `prefork concurrency N (default: CPU count here, at most 4: ${DEFAULT_PROCS})`, default: DEFAULT_PROCS, min: 1, max: 64 },
    threads: { type: 'int', describe: 'threads and async concurrency M', default: 24, min: 1, max: 256 },
    requests: { type: 'int', describe: 'rate fetches (I/O-bound tasks) per run', default: 24, min: 1, max: 10_000 },
    latency: { type: 'int', describe: 'quote server latency per request, ms', default: 100, min: 1, max: 60_000 },
    chunks: { type: 'int', describe: 'sort tasks (CPU-bound) per run', default: 4, min: 1, max: 1000 },
    size: { type: 'int', describe: 'integers sorted across those chunks', default: 800_000, min: 1, max: 20_000_000 },
  },
  modes: [...POOLS],
  baseline: 'prefork',
  candidate: 'threads',
  defaults: { repeat: 1, warmup: 0 },
  tasksModule: new URL('./tasks.js', import.meta.url),
  app: async () => (await import('./tasks.js')).app,
  needs: { quotes: true, workerGroups: true },
  lesson: 'workers are processes (prefork -c N) by default; for I/O-bound tasks use -P threads, which does not help CPU-bound ones',

  prepare(params) {
    if (params.requests <= params.procs) throw new RangeError(`--requests ${params.requests} must exceed --procs ${params.procs}: with no more requests than prefork processes the pools cannot differ on I/O`);
    if (params.chunks > params.size) throw new RangeError(`--chunks ${params.chunks} is more chunks than --size ${params.size} has items`);
    const pairs = Array.from({ length: params.requests }, (_, i) => DEFAULT_PAIRS[i % DEFAULT_PAIRS.length]!);
    return { chunks: split(shuffledRange(params.size, 1), params.chunks), pairs };
  },

  async setUp(params, _fixture, ctx) {
    quotesUrl(ctx, params.latency);
    const base = lessonQueue('pools');
    const queues = Object.fromEntries(POOLS.map((p) => [p, `${base}.${p}`])) as Record<PoolKind, string>;
    const env: Env = { queues, groups: {} as Record<PoolKind, WorkerGroup>, latest: {} };
    try {
      const started = await Promise.all(POOLS.map((pool) => ctx.workers.start({ name: pool, queues: [queues[pool]], pool, concurrency: pool === 'prefork' ? params.procs : params.threads })));
      POOLS.forEach((p, i) => (env.groups[p] = started[i]!));
      // Warm every slot before the timed runs (a worker in service is warm): one quick fetch and one small sort
      // per slot, so the first measured run does not pay for cold code and new connections in each slot.
      const warm = quotesUrl(ctx, 0);
      await Promise.all(
        POOLS.map(async (pool) => {
          const slots = env.groups[pool].spec.concurrency;
          const sent = await Promise.all([
            ...Array.from({ length: slots }, () => send(ctx.app, 'currency.get_rate', ['EURUSD', warm], { queue: queues[pool] })),
            ...Array.from({ length: slots }, () => send(ctx.app, 'mergesort.sort', [[3, 1, 2]], { queue: queues[pool] })),
          ]);
          await Promise.all(sent.map((r) => r.get({ timeout: ctx.timeoutS, signal: ctx.signal })));
          await forget(sent);
        }),
      );
    } catch (err) {
      await deleteQueues(ctx.app, Object.values(queues));
      throw err;
    }
    return env;
  },

  async tearDown(_params, _fixture, ctx) {
    const env = ctx.env as Env | undefined;
    if (!env) return;
    await Promise.all(Object.values(env.groups).map((g) => g.stop()));
    await deleteQueues(ctx.app, Object.values(env.queues));
  },

  async run(mode, params, fixture, ctx) {
    const env = ctx.env as Env;
    const pool = mode as PoolKind;
    const queue = env.queues[pool];
    const url = quotesUrl(ctx, params.latency);
    const t0 = performance.now();
    const io = await timed(Promise.all(fixture.pairs.map((p) => send(ctx.app, 'currency.get_rate', [p, url], { queue }))), ctx.timeoutS, ctx.signal);
    const t1 = performance.now();
    const cpu = await timed(Promise.all(fixture.chunks.map((c) => send(ctx.app, 'mergesort.sort', [c], { queue }))), ctx.timeoutS, ctx.signal);
    const t2 = performance.now();
    const ratesOk = (io.values as [string, number][]).every(([pair, rate], i) => pair === fixture.pairs[i] && rate === quotePrice(pair));
    const sortedOk = (cpu.values as number[][]).every((c, i) => c.length === fixture.chunks[i]!.length && c.every((x, j) => j === 0 || c[j - 1]! <= x));
    await forget([...io.results, ...cpu.results]);
    const figures: PoolFigures = { pool, concurrency: env.groups[pool].spec.concurrency, ioMs: t1 - t0, cpuMs: t2 - t1 };
    env.latest[pool] = figures;
    const table = POOLS.map((p) => env.latest[p]).filter((f): f is PoolFigures => f !== undefined);
    return { output: { ...figures, ratesOk, sortedOk, table }, phases: { io: figures.ioMs, cpu: figures.cpuMs } };
  },

  verify(_params, _f, o) {
    if (!o.ratesOk) return { ok: false, detail: `${o.pool}: the rates do not match the quote server's` };
    if (!o.sortedOk) return { ok: false, detail: `${o.pool}: a chunk came back unsorted` };
    return { ok: true, detail: '' };
  },

  conclude(params, stats) {
    return judge(params, stats);
  },

  summarize: (o) => o,
  describe(summary) {
    const o = summary as PoolsOutput;
    const rows = o.table.length ? o.table : [o];
    const bestIo = Math.min(...rows.map((r) => r.ioMs));
    const bestCpu = Math.min(...rows.map((r) => r.cpuMs));
    const head = `${'pool'.padEnd(14)} ${'I/O-bound'.padStart(11)}  ${'CPU-bound'.padStart(11)}`;
    const lines = rows.map((r) => {
      const io = `${formatMs(r.ioMs)}${r.ioMs === bestIo ? ' ←' : '  '}`;
      const cpu = `${formatMs(r.cpuMs)}${r.cpuMs === bestCpu ? ' ←' : '  '}`;
      return `${`${r.pool} -c ${r.concurrency}`.padEnd(14)} ${io.padStart(11)}  ${cpu.padStart(11)}`;
    });
    return [`which pool fits which work (last repeat; ← the fastest):`, head, ...lines];
  },
};

/**
 * The rule judged, on the medians of the point: I/O — threads and async (concurrency M) each finish the requests
 * sooner than prefork (N processes), as they hold more requests in flight than prefork has processes. When it does
 * not hold the verdict fails and shows the figures. The CPU-bound figures are reported beside it, not judged: how
 * the pools compare there depends on the free cores of the workers host and on the cost of moving each chunk (for
 * mergesort, serializing a chunk costs about as much as sorting it), so no rule about them holds everywhere.
 */
export function judge(params: PoolsParams, stats: Record<string, ModeStats>): Verdict {
  const med = (pool: PoolKind, phase: 'io' | 'cpu'): number => stats[pool]?.phases[phase]?.median ?? NaN;
  const io = { prefork: med('prefork', 'io'), threads: med('threads', 'io'), async: med('async', 'io') };
  const cpu = { prefork: med('prefork', 'cpu'), threads: med('threads', 'cpu'), async: med('async', 'cpu') };
  const fastestCpu = POOLS.reduce((a, b) => (cpu[b] < cpu[a] ? b : a));
  const cpuText = `CPU (${params.size} ints in ${params.chunks} chunks; reported, not judged): prefork ${formatMs(cpu.prefork)}, threads ${formatMs(cpu.threads)}, async ${formatMs(cpu.async)}, fastest ${fastestCpu}`;
  const ioText = `I/O (${params.requests} requests of ${params.latency} ms): threads -c ${params.threads} ${formatMs(io.threads)}, async -c ${params.threads} ${formatMs(io.async)}, prefork -c ${params.procs} ${formatMs(io.prefork)}`;
  if (io.threads < io.prefork && io.async < io.prefork) return { ok: true, detail: `${ioText}: threads and async ${formatRatio(io.prefork / Math.max(io.threads, io.async))} faster than prefork; ${cpuText}` };
  return { ok: false, detail: `rule broken — ${ioText}: threads and async were not both faster than prefork on I/O; ${cpuText}` };
}
