/**
 * The book: if you do not need a task's result, make sure Celery does not fetch it — @task(ignore_result=True) —
 * which can improve performance a lot. The same fan-out of n tasks runs with results (lessons.echo, each result
 * stored and read) and without (lessons.fire, declared ignore_result): the throughput of both, and proof that the
 * ignored ones wrote no result key at all.
 *
 * How the caller knows the ignored tasks finished, with no result to wait for: they go to a queue served by one
 * worker with concurrency 1, which runs them in the order sent; a last task with a result follows them, and when
 * its result arrives every task before it has run.
 */
import { performance } from 'node:perf_hooks';
import { formatRatio } from '../../lab/report/format.js';
import type { ModeStats } from '../../lab/report/run-record.js';
import type { Scenario, WorkerGroup } from '../scenario.js';
import { deleteQueues, forget, lessonQueue, send, storedMeta } from './common.js';

export interface IgnoreResultParams extends Record<string, unknown> {
  n: number;
}

export interface IgnoreResultOutput {
  mode: string;
  n: number;
  /** Of the n fan-out tasks: how many have a result key in the backend, and how many of those are SUCCESS. */
  keys: number;
  succeeded: number;
  /** The task after them (ignore-result mode): its reply. */
  last: unknown;
  /** n / (send + wait), tasks per second. */
  throughput: number;
}

interface Env {
  queue: string;
  group: WorkerGroup;
}

export const ignoreResultLesson: Scenario<IgnoreResultParams, null, IgnoreResultOutput> = {
  name: 'ignore-result',
  summary: 'lesson: ignore_result=True — a fan-out without results, faster, and no result stored',
  description:
    "The book: when a task's result is not needed, declare it @task(ignore_result=True), so Celery does not store " +
    'or fetch it — a large performance gain. n tasks are fanned out with results (lessons.echo: every result stored, ' +
    'then read) and without (lessons.fire, ignore_result=True, followed by one task with a result). One worker with ' +
    'concurrency 1 runs them in order, so when that last result arrives every ignored task has run. Checked: all n ' +
    'results stored in the first mode, no result key for any of the n in the second. Reported: the throughput of each.',
  examples: [
    ['$0 run ignore-result', '500 tasks with and without results'],
    ['$0 run ignore-result --n 5000 --repeat 3', 'a larger fan-out, three repeats'],
  ],
  params: {
    n: { type: 'int', describe: 'tasks in the fan-out', default: 500, min: 1, max: 1_000_000 },
  },
  modes: ['with-result', 'ignore-result'],
  baseline: 'with-result',
  candidate: 'ignore-result',
  defaults: { repeat: 1, warmup: 0 },
  tasksModule: new URL('./tasks.js', import.meta.url),
  app: async () => (await import('./tasks.js')).app,
  needs: { workerGroups: true },
  lesson: "a result nobody needs should not be stored: @task(ignore_result=True) — much faster, and no result backend writes",
  prepare: () => null,

  async setUp(_params, _fixture, ctx) {
    const queue = lessonQueue('ignore-result');
    try {
      // One slot, tasks in the order sent: the last task's result means every earlier one ran.
      const group = await ctx.workers.start({ name: 'fanout', queues: [queue], pool: 'async', concurrency: 1 });
      return { queue, group } satisfies Env;
    } catch (err) {
      await deleteQueues(ctx.app, [queue]);
      throw err;
    }
  },

  async tearDown(_params, _fixture, ctx) {
    const env = ctx.env as Env | undefined;
    if (!env) return;
    await env.group.stop();
    await deleteQueues(ctx.app, [env.queue]);
  },

  async run(mode, params, _fixture, ctx) {
    const { queue } = ctx.env as Env;
    const ignore = mode === 'ignore-result';
    const t0 = performance.now();
    const fanout = await Promise.all(Array.from({ length: params.n }, (_, i) => send(ctx.app, ignore ? 'lessons.fire' : 'lessons.echo', [i], { queue })));
    const sent = performance.now();
    let last: unknown = null;
    const waited: typeof fanout = [];
    if (ignore) {
      const marker = await send(ctx.app, 'lessons.echo', ['last'], { queue });
      last = await marker.get({ timeout: ctx.timeoutS, signal: ctx.signal });
      waited.push(marker);
    } else {
      await Promise.all(fanout.map((r) => r.get({ timeout: ctx.timeoutS, signal: ctx.signal })));
      waited.push(...fanout);
    }
    const done = performance.now();
    const metas = await Promise.all(fanout.map((r) => storedMeta(ctx.app, r.id)));
    const checked = performance.now();
    await forget(waited);
    return {
      output: { mode, n: params.n, keys: metas.filter((m) => m !== null).length, succeeded: metas.filter((m) => m?.status === 'SUCCESS').length, last, throughput: params.n / ((done - t0) / 1000) },
      phases: { send: sent - t0, wait: done - sent, 'check backend': checked - done },
    };
  },

  verify(params, _f, o, mode) {
    if (mode === 'ignore-result') {
      if (o.last !== 'last') return { ok: false, detail: `the task after the fan-out returned ${JSON.stringify(o.last)}` };
      if (o.keys !== 0) return { ok: false, detail: `${o.keys} of the ${params.n} ignore_result tasks wrote a result key` };
      return { ok: true, detail: `ignore_result: all ${params.n} ran (the task after them finished) and wrote no result key` };
    }
    if (o.succeeded !== params.n) return { ok: false, detail: `${o.succeeded} of ${params.n} results stored as SUCCESS` };
    return { ok: true, detail: `with results: ${params.n} result keys stored and read` };
  },

  conclude(params, stats: Record<string, ModeStats>) {
    const rate = (m: string): number => {
      const s = stats[m]?.phases;
      return params.n / (((s?.send?.median ?? NaN) + (s?.wait?.median ?? NaN)) / 1000);
    };
    const withR = rate('with-result');
    const without = rate('ignore-result');
    // Reported, not judged: the gain depends on the backend (large on Redis, small in memory).
    return { ok: true, detail: `throughput ${Math.round(without)} tasks/s with ignore_result vs ${Math.round(withR)} tasks/s with results (${formatRatio(without / withR)})` };
  },

  summarize: (o) => o,
  describe(summary) {
    const o = summary as IgnoreResultOutput;
    return [`ignore_result=True: ${o.n} tasks at ${Math.round(o.throughput)} tasks/s; result keys written: ${o.keys}`];
  },
};
