/**
 * The book's production tip: at least two queues, tasks routed by how long they run (CELERY_ROUTES in a config
 * module), and a worker per queue — `celery -A project worker -Q queue1` on one host, `-Q queue2` on another.
 * Here the CPU-bound mergesort.sort goes to a queue served by a prefork group and the I/O-bound currency.get_rate
 * to one served by a threads group with high concurrency; the result metas say which worker ran each task.
 */
import { performance } from 'node:perf_hooks';
import { App } from '../../lab/queue/index.js';
import type { AsyncResult } from '../../lab/queue/index.js';
import { DEFAULT_PAIRS, PAIR_PATTERN, quotePrice } from '../../lab/services/quotes.js';
import type { Scenario } from '../scenario.js';
import { mergeAll, shuffledRange, split } from '../mergesort/mergesort.js';
import { andList, deleteQueues, forget, lessonQueue, quotesUrl, send, workerOf } from './common.js';
import { CONFIG_SOURCE, bookConfig } from './config.js';

export interface RoutingParams extends Record<string, unknown> {
  pairs: string[];
  n: number;
  size: number;
  latency: number;
  procs: number;
  threads: number;
}

interface Fixture {
  sequence: number[];
}

export interface RoutedTasks {
  task: string;
  /** The queue the config module routed it to (app.route), and the group meant to serve that queue. */
  queue: string;
  group: 'cpu' | 'io';
  count: number;
  /** Node → tasks it ran, from the result metas. */
  ranOn: Record<string, number>;
}

export interface RoutingOutput {
  groups: Record<'cpu' | 'io', { pool: string; concurrency: number; nodes: string[] }>;
  tasks: RoutedTasks[];
  sortedOk: boolean;
  ratesOk: boolean;
}

function tally(results: AsyncResult[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of results) {
    const w = workerOf(r.meta) ?? '(unknown)';
    out[w] = (out[w] ?? 0) + 1;
  }
  return out;
}

export const routingLesson: Scenario<RoutingParams, Fixture, RoutingOutput> = {
  name: 'routing',
  summary: 'lesson: CELERY_ROUTES sends CPU-bound and I/O-bound tasks to two queues, each with its own workers',
  description:
    "The book's production tips: a config module (config.py, app.config_from_object('config')) with CELERY_ROUTES " +
    'sending tasks to at least two queues, and workers started per queue with -Q. The master here is configured ' +
    'from such a module (scenarios/lessons/config.ts): mergesort.sort goes to the CPU queue, served by a prefork ' +
    'group (--procs), and currency.get_rate to the I/O queue, served by a threads group (--threads). It sends the ' +
    'book\'s sort chunks and rate fetches by name, and checks from each result meta which worker ran the task. On ' +
    'a lab with one workers host both groups run on that host, told apart by their node names (celery@HOST-cpu, ' +
    'celery@HOST-io).',
  examples: [
    ['$0 run routing', 'sort chunks to a prefork group, rate fetches to a threads group'],
    ['$0 run routing --n 8 --threads 32', 'more chunks, more threads'],
  ],
  params: {
    pairs: { type: 'string', describe: 'currency pairs fetched on the I/O queue', default: DEFAULT_PAIRS, list: true, pattern: PAIR_PATTERN, patternHint: 'six capital letters, like EURUSD' },
    n: { type: 'int', describe: 'sort chunks sent to the CPU queue', default: 4, min: 1, max: 1000 },
    size: { type: 'int', describe: 'integers sorted in those chunks', default: 100_000, min: 1, max: 10_000_000 },
    latency: { type: 'int', describe: 'quote server latency per request, ms', default: 50, min: 0, max: 60_000 },
    procs: { type: 'int', describe: 'concurrency of the CPU group (prefork)', default: 2, min: 1, max: 64 },
    threads: { type: 'int', describe: 'concurrency of the I/O group (threads)', default: 16, min: 1, max: 256 },
  },
  modes: ['lesson'],
  baseline: 'lesson',
  candidate: 'lesson',
  defaults: { repeat: 1, warmup: 0 },
  tasksModule: new URL('./tasks.js', import.meta.url),
  // The master's own app, configured from the config module below (not the workers' app): it knows no tasks,
  // it sends them by name, as the book's master does with routes from config.py.
  app: () => Promise.resolve(new App('routing-master')),
  needs: { quotes: true, workerGroups: true },
  lesson: 'route tasks to two queues with CELERY_ROUTES in a config module, and start workers per queue (-Q)',

  prepare(params) {
    if (params.n > params.size) throw new RangeError(`--n ${params.n} is more chunks than --size ${params.size} has items`);
    return { sequence: shuffledRange(params.size, 1) };
  },

  async run(_mode, params, fixture, ctx) {
    const url = quotesUrl(ctx, params.latency);
    const base = lessonQueue('routing');
    const queues = { cpu: `${base}.cpu`, io: `${base}.io` };
    try {
      ctx.app.configFromObject(bookConfig(queues), CONFIG_SOURCE);
      const t0 = performance.now();
      const [cpu, io] = await Promise.all([
        ctx.workers.start({ name: 'cpu', queues: [queues.cpu], pool: 'prefork', concurrency: params.procs }),
        ctx.workers.start({ name: 'io', queues: [queues.io], pool: 'threads', concurrency: params.threads }),
      ]);
      const started = performance.now();
      // By name and without a queue: where each goes is the config module's business.
      const [sorts, rates] = await Promise.all([
        Promise.all(split(fixture.sequence, params.n).map((c) => send(ctx.app, 'mergesort.sort', [c], {}))),
        Promise.all(params.pairs.map((p) => send(ctx.app, 'currency.get_rate', [p, url], {}))),
      ]);
      const waitAll = async (rs: AsyncResult[]): Promise<[unknown[], number]> => [await Promise.all(rs.map((r) => r.get({ timeout: ctx.timeoutS, signal: ctx.signal }))), performance.now() - started];
      const [[sorted, sortMs], [fetched, fetchMs]] = await Promise.all([waitAll(sorts), waitAll(rates)]);
      const merged = mergeAll(sorted as number[][]);
      const sortedOk = merged.length === params.size && merged.every((x, i) => x === i);
      const ratesOk = (fetched as [string, number][]).every(([pair, rate], i) => pair === params.pairs[i] && rate === quotePrice(pair));
      const output: RoutingOutput = {
        groups: {
          cpu: { pool: 'prefork', concurrency: params.procs, nodes: [...cpu.hostnames] },
          io: { pool: 'threads', concurrency: params.threads, nodes: [...io.hostnames] },
        },
        tasks: [
          { task: 'mergesort.sort', queue: ctx.app.route('mergesort.sort').queue, group: 'cpu', count: sorts.length, ranOn: tally(sorts) },
          { task: 'currency.get_rate', queue: ctx.app.route('currency.get_rate').queue, group: 'io', count: rates.length, ranOn: tally(rates) },
        ],
        sortedOk,
        ratesOk,
      };
      await Promise.all([cpu.stop(), io.stop(), forget([...sorts, ...rates])]);
      return { output, phases: { 'groups start': started - t0, 'sort chunks': sortMs, 'fetch rates': fetchMs } };
    } finally {
      await deleteQueues(ctx.app, [queues.cpu, queues.io]);
    }
  },

  verify(_params, _f, o) {
    for (const t of o.tasks) {
      const group = o.groups[t.group];
      const strays = Object.entries(t.ranOn).filter(([node]) => !group.nodes.includes(node));
      if (strays.length > 0) return { ok: false, detail: `${t.task} ran on ${andList(strays.map(([n, c]) => `${n} (${c})`))}, not only on the ${t.group} group (${group.nodes.join(', ')})` };
    }
    if (!o.sortedOk) return { ok: false, detail: 'the sorted chunks do not merge into a sorted sequence' };
    if (!o.ratesOk) return { ok: false, detail: "the rates do not match the quote server's" };
    return { ok: true, detail: o.tasks.map((t) => `${t.count} ${t.task} → ${t.queue.replace(/^.*\./, '')} queue → ${andList(Object.keys(t.ranOn))}`).join('; ') };
  },
  summarize: (o) => o,
  describe(summary) {
    const o = summary as RoutingOutput;
    return o.tasks.map((t) => {
      const g = o.groups[t.group];
      return `${t.task} ×${t.count} → ${t.queue} → ${Object.entries(t.ranOn).map(([n, c]) => `${n} ×${c}`).join(', ')} (${g.pool} -c ${g.concurrency})`;
    });
  },
};
