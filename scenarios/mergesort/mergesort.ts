/**
 * The book's distributed merge sort: split the sequence into n chunks, sort the chunks as tasks (a group),
 * merge the sorted partials on the master — against the same merge sort run locally on the whole sequence.
 */
import { performance } from 'node:perf_hooks';
import { group } from '../../lab/queue/index.js';
import type { GroupResult } from '../../lab/queue/index.js';
import { phaseTimer } from '../../lab/harness/timer.js';
import type { Scenario } from '../scenario.js';
import { merge, mergeSort } from './merge-sort.js';
import { SortThreads } from './parallel.js';
import type { SortedChunk } from './parallel.js';

export interface MergesortParams extends Record<string, unknown> {
  n: number;
  size: number;
  seed: number;
}

interface Fixture {
  sequence: number[];
  truth: Int32Array | null;
}

/** A shuffled range(size), reproducible from the seed (mulberry32 + Fisher–Yates, like random.shuffle). */
export function shuffledRange(size: number, seed: number): number[] {
  // Built by push, not new Array(size): a holey array stringifies to JSON several times slower.
  const a: number[] = [];
  for (let i = 0; i < size; i++) a.push(i);
  let s = seed >>> 0;
  const rand = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = size - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const x = a[i];
    a[i] = a[j];
    a[j] = x;
  }
  return a;
}

/** The book's split: n chunks of len//n, the last one taking the remainder. */
export function split(sequence: readonly number[], n: number): number[][] {
  const l = Math.floor(sequence.length / n);
  const chunks: number[][] = [];
  for (let i = 0; i < n - 1; i++) chunks.push(sequence.slice(i * l, (i + 1) * l));
  chunks.push(sequence.slice((n - 1) * l));
  return chunks;
}

/** Merge sorted partials pairwise (a balanced tree: fewer element moves than folding left to right). */
export function mergeAll(partials: number[][]): number[] {
  let level = partials;
  while (level.length > 1) {
    const next: number[][] = [];
    for (let i = 0; i < level.length; i += 2) next.push(i + 1 < level.length ? merge(level[i], level[i + 1]) : level[i]);
    level = next;
  }
  return level[0] ?? [];
}

/**
 * Where the time went after the split, along the critical path — the chunk whose result came back last:
 * serialize and publish (the master), queue wait, compute (its worker, by the worker's clock: lab workers store
 * when they ran the task), result transfer, and the merge still left once it arrived (merges of earlier chunks
 * overlap the wait). Each boundary is clamped to the one before, so the phases add up to the run's time.
 * With a worker that does not say when it ran (a Python one), queue wait + compute + transfer are one 'wait'.
 */
export function criticalPath(pending: GroupResult<number[]>, sentAt: number, doneAt: number): Record<string, number> {
  const timings = pending.timings;
  const phases: Record<string, number> = {};
  if (timings) {
    phases.serialize = timings.encodeMs;
    phases.publish = Math.max(0, timings.sendMs - timings.encodeMs);
  } else phases.dispatch = 0;
  const last = pending.results.reduce((a, b) => ((b.receivedAt ?? 0) > (a.receivedAt ?? 0) ? b : a));
  const arrived = Math.max(sentAt, last.receivedAt ?? doneAt);
  const started = last.meta?.lab_started;
  const finished = last.meta?.lab_finished;
  if (typeof started === 'number' && typeof finished === 'number') {
    const s = Math.min(arrived, Math.max(sentAt, started * 1000));
    const f = Math.min(arrived, Math.max(s, finished * 1000));
    phases['queue wait'] = s - sentAt;
    phases.compute = f - s;
    phases['result transfer'] = arrived - f;
  } else phases.wait = arrived - sentAt;
  phases.merge = Math.max(0, doneAt - arrived);
  return phases;
}

/**
 * The parallel mode's phases, along the same critical path as criticalPath(): handing the chunks to the threads
 * (copies into typed arrays), waiting for a free thread, sorting, the sorted chunk's way back, the merge left.
 */
export function threadPath(last: SortedChunk, sentAt: number, dispatchMs: number, doneAt: number): Record<string, number> {
  const arrived = Math.max(sentAt, last.arrived);
  const s = Math.min(arrived, Math.max(sentAt, last.started));
  const f = Math.min(arrived, Math.max(s, last.finished));
  return { dispatch: dispatchMs, 'queue wait': s - sentAt, compute: f - s, 'result transfer': arrived - f, merge: Math.max(0, doneAt - arrived) };
}

async function mergeTree(parts: Promise<number[]>[], lo: number, hi: number): Promise<number[]> {
  if (hi - lo === 1) return parts[lo];
  const mid = lo + ((hi - lo) >> 1);
  const [left, right] = await Promise.all([mergeTree(parts, lo, mid), mergeTree(parts, mid, hi)]);
  return merge(left, right);
}

export function verifySorted(output: unknown, fixture: Fixture): { ok: boolean; detail: string } {
  if (!Array.isArray(output)) return { ok: false, detail: 'result is not a list' };
  fixture.truth ??= Int32Array.from(fixture.sequence).sort();
  const truth = fixture.truth;
  if (output.length !== truth.length) return { ok: false, detail: `result has ${output.length} items, expected ${truth.length}` };
  for (let i = 0; i < truth.length; i++) {
    if (output[i] !== truth[i]) return { ok: false, detail: `result differs from a plain sort at index ${i}: ${JSON.stringify(output[i])} ≠ ${truth[i]}` };
  }
  return { ok: true, detail: `${truth.length} items equal a plain sort` };
}

export const mergesortScenario: Scenario<MergesortParams, Fixture, number[]> = {
  name: 'mergesort',
  summary: 'distributed merge sort (split into n chunks, sort them as tasks, merge) vs the same sort locally',
  description:
    'The book\'s mergesort: a shuffled range(size) is split into n chunks; each chunk is sorted by a worker ' +
    '(task mergesort.sort, sent as a group); the master merges the sorted partials. The same merge sort runs ' +
    'locally on the whole sequence for comparison, and in parallel on this machine as the book suggests with ' +
    'multiprocessing (the same chunks sorted by a pool of worker threads, one per CPU at most, no broker). Every ' +
    'result is checked against a plain sort.',
  examples: [
    ['$0 run mergesort --n 4', 'the book\'s run: 1,000,000 ints in 4 chunks'],
    ['$0 run mergesort --n 1,2,4,8 --size 100000,1000000 --repeat 5', 'a sweep: every n for every size'],
  ],
  params: {
    n: { type: 'int', describe: 'number of chunks (tasks)', default: 4, min: 1, max: 10_000, sweep: true },
    size: { type: 'int', describe: 'number of integers to sort', default: 1_000_000, min: 1, max: 50_000_000, sweep: true },
    seed: { type: 'int', describe: 'shuffle seed (same seed, same sequence)', default: 1, min: 0 },
  },
  modes: ['local', 'parallel', 'distributed'],
  baseline: 'local',
  candidate: 'distributed',
  defaults: { repeat: 1, warmup: 0 },
  smoke: { params: { size: '20000' }, warmup: 1 },
  tasksModule: new URL('./tasks.js', import.meta.url),
  app: async () => (await import('./tasks.js')).app,

  prepare(params) {
    if (params.n > params.size) throw new RangeError(`--n ${params.n} is more chunks than --size ${params.size} has items`);
    return { sequence: shuffledRange(params.size, params.seed), truth: null };
  },

  // The parallel mode's threads start once per point, before the timed repeats (as Celery's workers are up first).
  setUp: async (params) => SortThreads.start(SortThreads.size(params.n)),
  tearDown: async (_params, _fixture, ctx) => {
    if (ctx.env instanceof SortThreads) await ctx.env.close();
  },

  async run(mode, params, fixture, ctx) {
    const t = phaseTimer();
    if (mode === 'local') {
      const output = mergeSort(fixture.sequence);
      t.mark('sort');
      return { output, phases: t.phases };
    }
    const chunks = split(fixture.sequence, params.n);
    t.mark('split');
    if (mode === 'parallel') return runParallel(chunks, ctx.env, params.n, t.phases.split);
    const { sort } = await import('./tasks.js');
    const pending = await group(chunks.map((c) => sort.s(c))).applyAsync();
    const sentAt = Date.now();
    const splitMs = t.phases.split;
    // Merge pairs as soon as both halves are back (a balanced tree), so merging overlaps the slower chunks.
    const partials = pending.results.map((r) => r.get({ timeout: ctx.timeoutS, signal: ctx.signal }));
    const output = await mergeTree(partials, 0, partials.length);
    const doneAt = Date.now();
    return { output, phases: { split: splitMs, ...criticalPath(pending, sentAt, doneAt) } };
  },

  verify: (_params, fixture, output) => verifySorted(output, fixture),
  summarize: (output) => ({ items: output.length, first: output.slice(0, 3), last: output.slice(-3) }),
};

/** Sort the chunks on the point's threads (or, called without setUp, on threads started for this run). */
async function runParallel(chunks: number[][], env: unknown, n: number, splitMs: number): Promise<{ output: number[]; phases: Record<string, number> }> {
  const own = env instanceof SortThreads ? null : await SortThreads.start(SortThreads.size(n));
  const threads = env instanceof SortThreads ? env : own!;
  try {
    const d0 = performance.now();
    const pending = chunks.map((c) => threads.sort(c));
    const dispatchMs = performance.now() - d0;
    const sentAt = Date.now();
    const output = await mergeTree(pending.map((p) => p.then((r) => r.sorted)), 0, pending.length);
    const doneAt = Date.now();
    const back = await Promise.all(pending);
    const last = back.reduce((a, b) => (b.arrived > a.arrived ? b : a));
    return { output, phases: { split: splitMs, ...threadPath(last, sentAt, dispatchMs, doneAt) } };
  } finally {
    await own?.close();
  }
}
