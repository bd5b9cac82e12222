/**
 * The book: if you do not need a task's result, make sure Celery does not fetch it — @task(ignore_result=True) —
 * which can improve performance a lot. The same fan-out of n tasks runs with results (lessons.echo, each result
 * stored and read) and without (lessons.fire, declared ignore_result): the throughput of both, and proof that the
 * ignored ones wrote no result key at all.
 *
 * How the caller knows the ignored tasks finished, with no result to wait for: they go to a queue of their own served
 * by a worker with concurrency 1, which runs them in the order sent; a last task with a result follows them, and when
 * its result arrives every task before it has run (on that worker). Then the worker group stops warm — it finishes
 * every task it received — and the queue must be empty: so every one of the n ran, however many workers hosts the
 * lab has (each runs a worker of the group).
 */
import { performance } from 'node:perf_hooks';
import { formatRatio } from '../../lab/report/format.js';
import type { ModeStats } from '../../lab/report/run-record.js';
import type { Scenario } from '../scenario.js';
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
  /** Messages left in the queue once the worker group stopped (0: every task was received, and so ran). */
  leftInQueue: number;
  /** n / (send + wait), tasks per second. */
  throughput: number;
}

export const ignoreResultLesson: Scenario<IgnoreResultParams, null, IgnoreResultOutput> = {
  name: 'ignore-result',
  summary: 'lesson: ignore_result=True — a fan-out without results, faster, and no result stored',
  description:
    "The book: when a task's result is not needed, declare it @task(ignore_result=True), so Celery does not store " +
    'or fetch it — a large performance gain. n tasks are fanned out with results (lessons.echo: every result stored, ' +
    'then read) and without (lessons.fire, ignore_result=True, followed by one task with a result). One worker with ' +
    'concurrency 1 runs them in order, so when that last result arrives every ignored task has run; the worker then ' +
    'stops warm and the queue must be empty. Checked: all n results stored in the first mode, no result key for any ' +
    'of the n in the second. Reported: the throughput of each (send until the last result).',
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

  async run(mode, params, _fixture, ctx) {
    const queue = lessonQueue('ignore-result');
    try {
      // One slot, tasks in the order sent: the last task's result means every earlier one ran.
      const group = await ctx.workers.start({ name: 'fanout', queues: [queue], pool: 'async', concurrency: 1 });
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
      // A warm stop finishes every task the group received; what it never received is still in the queue.
      await group.stop();
      const leftInQueue = (await (await ctx.app.getBroker()).stats(queue)).messages;
      const metas = await Promise.all(fanout.map((r) => storedMeta(ctx.app, r.id)));
      const checked = performance.now();
      await forget(waited);
      return {
        output: { mode, n: params.n, keys: metas.filter((m) => m !== null).length, succeeded: metas.filter((m) => m?.status === 'SUCCESS').length, last, leftInQueue, throughput: params.n / ((done - t0) / 1000) },
        phases: { send: sent - t0, wait: done - sent, 'stop + check': checked - done },
      };
    } finally {
      await deleteQueues(ctx.app, [queue]);
    }
  },

  verify(params, _f, o, mode) {
    if (mode === 'ignore-result') {
      if (o.last !== 'last') return { ok: false, detail: `the task after the fan-out returned ${JSON.stringify(o.last)}` };
      if (o.leftInQueue !== 0) return { ok: false, detail: `${o.leftInQueue} tasks were still in the queue after the workers stopped` };
      if (o.keys !== 0) return { ok: false, detail: `${o.keys} of the ${params.n} ignore_result tasks wrote a result key` };
      return { ok: true, detail: `ignore_result: all ${params.n} ran (the task after them finished, the queue was empty) and wrote no result key` };
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
