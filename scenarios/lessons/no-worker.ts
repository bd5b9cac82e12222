/**
 * The book, with the worker stopped: "nothing happens, currency.py waits for a worker"; with result.get(timeout=1)
 * it raises celery.exceptions.TimeoutError — and the request stays in the queue, so a worker started later takes it.
 */
import { performance } from 'node:perf_hooks';
import { TaskTimeoutError } from '../../lab/queue/index.js';
import { formatMs } from '../../lab/report/format.js';
import type { Scenario } from '../scenario.js';
import { ONE_MODE_LESSON, deleteQueues, forget, lessonQueue, send, workerOf } from './common.js';

export interface NoWorkerParams extends Record<string, unknown> {
  wait: number;
  message: string;
}

export interface NoWorkerOutput {
  queue: string;
  /** get(timeout) raised the timeout error (and after how long). */
  timedOut: boolean;
  timeoutMs: number;
  /** Messages the queue held after the timeout: the request waiting for a worker. */
  waiting: number;
  /** The late worker group's nodes, and how long it took to start consuming. */
  workers: string[];
  workerStartMs: number;
  result: unknown;
  /** The node that stored the result, and how long after the worker started it arrived. */
  ranOn: string | null;
  resultAfterStartMs: number;
}

export const noWorkerLesson: Scenario<NoWorkerParams, null, NoWorkerOutput> = {
  name: 'no-worker',
  summary: 'lesson: a task sent with no worker running waits in the broker; get(timeout) raises TimeoutError',
  description:
    'The book stops the worker and runs currency.py again: nothing happens, the call waits; with ' +
    'result.get(timeout=1) it raises celery.exceptions.TimeoutError. The request is not lost: it waits in the ' +
    'queue, and a worker started afterwards takes it. This lesson sends lessons.echo to a queue of its own that ' +
    'nobody consumes, checks that get(timeout=--wait) times out and that the message waits in the broker, then ' +
    'starts a worker group for that queue and checks that the waiting task is served by it.',
  examples: [
    ['$0 run no-worker', 'get(timeout=1) with no worker, then a worker takes the task'],
    ['$0 run no-worker --wait 0.2', 'a shorter timeout'],
  ],
  params: {
    wait: { type: 'number', describe: 'seconds get() waits before it gives up (the book: timeout=1)', default: 1, min: 0.05, max: 60 },
    message: { type: 'string', describe: 'what the task echoes', default: 'Python rocks!' },
  },
  ...ONE_MODE_LESSON,
  lesson: 'with no worker the call waits; get(timeout=1) raises TimeoutError, and the request waits in the queue for a worker',

  async run(_mode, params, _fixture, ctx) {
    const queue = lessonQueue('no-worker');
    try {
      const r = await send(ctx.app, 'lessons.echo', [params.message], { queue });
      const t0 = performance.now();
      let timedOut = false;
      try {
        await r.get({ timeout: params.wait, signal: ctx.signal });
      } catch (err) {
        if (!(err instanceof TaskTimeoutError)) throw err;
        timedOut = true;
      }
      const timeoutMs = performance.now() - t0;
      const waiting = (await (await ctx.app.getBroker()).stats(queue)).messages;
      const s0 = performance.now();
      const group = await ctx.workers.start({ name: 'late', queues: [queue], pool: 'prefork', concurrency: 1 });
      const started = performance.now();
      const result = await r.get({ timeout: ctx.timeoutS, signal: ctx.signal });
      const resultAfterStartMs = performance.now() - started;
      const ranOn = workerOf(r.meta);
      await group.stop();
      await forget([r]);
      return {
        output: { queue, timedOut, timeoutMs, waiting, workers: [...group.hostnames], workerStartMs: started - s0, result, ranOn, resultAfterStartMs },
        phases: { 'get timeout': timeoutMs, 'worker start': started - s0, 'start → result': resultAfterStartMs },
      };
    } finally {
      await deleteQueues(ctx.app, [queue]);
    }
  },

  verify(params, _f, o) {
    if (!o.timedOut) return { ok: false, detail: `get(timeout=${params.wait}) returned with no worker running: something else consumes ${o.queue}` };
    if (o.waiting !== 1) return { ok: false, detail: `after the timeout the queue held ${o.waiting} messages, expected the 1 request waiting for a worker` };
    if (o.result !== params.message) return { ok: false, detail: `the late worker returned ${JSON.stringify(o.result)}, expected ${JSON.stringify(params.message)}` };
    if (!o.ranOn || !o.workers.includes(o.ranOn)) return { ok: false, detail: `the result came from ${o.ranOn ?? 'an unknown worker'}, not the late worker group (${o.workers.join(', ')})` };
    return {
      ok: true,
      detail: `get(timeout=${params.wait}) raised TimeoutError after ${formatMs(o.timeoutMs)}; the request waited in the broker; ${o.ranOn} (started in ${formatMs(o.workerStartMs)}) returned it ${formatMs(o.resultAfterStartMs)} later`,
    };
  },
  summarize: (o) => o,
  describe(summary) {
    const o = summary as NoWorkerOutput;
    return [
      `no worker on ${o.queue}: result.get(timeout=…) → ${o.timedOut ? `celery.exceptions.TimeoutError: The operation timed out. (after ${formatMs(o.timeoutMs)})` : 'returned (it should have timed out)'}`,
      `the request waited in the broker: ${o.waiting} message${o.waiting === 1 ? '' : 's'} in ${o.queue}`,
      `a worker started (${o.workers.join(', ')}, ready in ${formatMs(o.workerStartMs)}) and took it: ${JSON.stringify(o.result)} from ${o.ranOn ?? '?'} ${formatMs(o.resultAfterStartMs)} after it started`,
    ];
  },
};
