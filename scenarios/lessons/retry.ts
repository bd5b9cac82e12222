/**
 * The book: "resubmit failed tasks (see the retry parameter of the task decorator)". A task that fails its first
 * k attempts calls self.retry(countdown=…): the worker sends it again under the same id, to run after the
 * countdown, and the caller's one result.get() sees the attempt that succeeded.
 */
import { performance } from 'node:perf_hooks';
import { formatMs } from '../../lab/report/format.js';
import type { Scenario } from '../scenario.js';
import { ONE_MODE_LESSON, deleteQueues, forget, lessonQueue, send } from './common.js';
import type { FlakyResult } from './tasks.js';

export interface RetryParams extends Record<string, unknown> {
  k: number;
  countdown: number;
}

export interface RetryOutput {
  queue: string;
  /** The id the caller got from apply_async. */
  sentId: string;
  /** What the last attempt returned: its id, attempt number and node. */
  final: FlakyResult;
  state: string;
  /** From send to the result, ms. */
  totalMs: number;
}

export const retryLesson: Scenario<RetryParams, null, RetryOutput> = {
  name: 'retry',
  summary: 'lesson: a task failing its first k attempts retries under the same id, with a countdown',
  description:
    "The book names Celery's retry for failed tasks. lessons.flaky(k, countdown) fails its first k attempts, each " +
    'time calling self.retry(countdown=…, max_retries=k): the worker re-sends the task under the same id, due ' +
    'after the countdown. The caller waits once. Checked: the last attempt is number k+1, it ran under the id the ' +
    'caller holds, and the result took at least k countdowns.',
  examples: [
    ['$0 run retry', 'two failures, 0.3 s apart, then success'],
    ['$0 run retry --k 4 --countdown 1', 'four failures a second apart'],
  ],
  params: {
    k: { type: 'int', describe: 'attempts that fail before one succeeds', default: 2, min: 1, max: 20 },
    countdown: { type: 'number', describe: 'seconds before each retry runs (retry(countdown=…))', default: 0.3, min: 0, max: 60 },
  },
  ...ONE_MODE_LESSON,
  smoke: { params: { k: '1', countdown: '0.1' } },
  lesson: 'a failed task can be resubmitted: self.retry(countdown=…) runs it again under the same id',

  async run(_mode, params, _fixture, ctx) {
    const queue = lessonQueue('retry');
    try {
      const t0 = performance.now();
      const group = await ctx.workers.start({ name: 'flaky', queues: [queue], pool: 'prefork', concurrency: 1 });
      const sent = performance.now();
      const r = await send(ctx.app, 'lessons.flaky', [params.k, params.countdown], { queue });
      const final = (await r.get({ timeout: ctx.timeoutS + params.k * params.countdown, signal: ctx.signal })) as FlakyResult;
      const totalMs = performance.now() - sent;
      const output: RetryOutput = { queue, sentId: r.id, final, state: r.state, totalMs };
      await group.stop();
      await forget([r]);
      return { output, phases: { 'worker start': sent - t0, 'send → result': totalMs } };
    } finally {
      await deleteQueues(ctx.app, [queue]);
    }
  },

  verify(params, _f, o) {
    const minMs = params.k * params.countdown * 1000;
    if (o.state !== 'SUCCESS') return { ok: false, detail: `the task ended ${o.state}, expected SUCCESS after ${params.k} retries` };
    if (o.final.attempts !== params.k + 1) return { ok: false, detail: `it succeeded on attempt ${o.final.attempts}, expected ${params.k + 1}` };
    if (o.final.id !== o.sentId) return { ok: false, detail: `the last attempt ran as ${o.final.id}, not under the id the caller holds (${o.sentId})` };
    // A timer may fire a millisecond early; the countdowns add up all the same.
    if (o.totalMs < minMs - 5 * params.k) return { ok: false, detail: `the result came after ${formatMs(o.totalMs)}, sooner than ${params.k} countdowns of ${params.countdown} s` };
    return { ok: true, detail: `${params.k} attempts failed and retried under the same id; attempt ${o.final.attempts} succeeded after ${formatMs(o.totalMs)} (≥ ${params.k} × ${params.countdown} s)` };
  },
  summarize: (o) => o,
  describe(summary) {
    const o = summary as RetryOutput;
    return [
      `lessons.flaky[${o.sentId}]: ${o.final.attempts - 1} retries, attempt ${o.final.attempts} succeeded on ${o.final.hostname} as ${o.final.id}`,
      `one result.get() on the caller: ${o.state} after ${formatMs(o.totalMs)}`,
    ];
  },
};
