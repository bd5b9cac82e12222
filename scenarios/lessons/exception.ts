/**
 * The book edits get_rate on HOST3 to `raise Exception('Booo!')`: the first result.get() on the master raises
 * Exception: Booo! — the remote exception's type and message come back to the caller. Here the traceback comes back
 * too, and the same worker goes on serving the next task.
 */
import { performance } from 'node:perf_hooks';
import { TaskFailedError } from '../../lab/queue/index.js';
import { formatMs } from '../../lab/report/format.js';
import type { Scenario } from '../scenario.js';
import { ONE_MODE_LESSON, deleteQueues, forget, lessonQueue, send, workerOf } from './common.js';

export interface ExceptionParams extends Record<string, unknown> {
  pair: string;
}

export interface ExceptionOutput {
  queue: string;
  /** What get() raised: the remote exception as the caller sees it (null: it did not raise TaskFailedError). */
  raised: { type: string; message: string; module: string | null; traceback: string | null } | null;
  /** The state the backend holds for the failed task. */
  state: string | null;
  failedOn: string | null;
  /** The next task on the same worker: its result and node. */
  next: unknown;
  nextOn: string | null;
  workers: string[];
}

/** How many lines of the remote traceback a person is shown (the record keeps all of it). */
const TRACEBACK_LINES = 8;

export const exceptionLesson: Scenario<ExceptionParams, null, ExceptionOutput> = {
  name: 'exception',
  summary: "lesson: a task's exception comes back to the caller with its type, message and traceback",
  description:
    "The book changes get_rate on the worker host to raise Exception('Booo!'); the master's result.get() then " +
    'raises Exception: Booo!. This lesson starts a worker group, calls lessons.booo(pair) (that modified get_rate), ' +
    'checks that get() raises the remote type and message with the worker\'s traceback, and that the same worker ' +
    'then serves the next task (a failing task does not take the worker down).',
  examples: [['$0 run exception', "get_rate raising Exception('Booo!'), then the next task on the same worker"]],
  params: {
    pair: { type: 'string', describe: 'the pair get_rate is called with', default: 'EURUSD', pattern: /^[A-Z]{6}$/, patternHint: 'six capital letters, like EURUSD' },
  },
  ...ONE_MODE_LESSON,
  smoke: { params: {} },
  lesson: "a task raising Exception('Booo!') makes the caller's result.get() raise Exception: Booo!",

  async run(_mode, params, _fixture, ctx) {
    const queue = lessonQueue('exception');
    try {
      const t0 = performance.now();
      const group = await ctx.workers.start({ name: 'booo', queues: [queue], pool: 'prefork', concurrency: 1 });
      const started = performance.now();
      const failed = await send(ctx.app, 'lessons.booo', [params.pair], { queue });
      let raised: ExceptionOutput['raised'] = null;
      try {
        await failed.get({ timeout: ctx.timeoutS, signal: ctx.signal });
      } catch (err) {
        if (!(err instanceof TaskFailedError)) throw err;
        raised = { type: err.excType, message: err.excMessage, module: err.excModule, traceback: err.remoteTraceback };
      }
      const failedAt = performance.now();
      const next = await send(ctx.app, 'lessons.echo', ['still serving'], { queue });
      const value = await next.get({ timeout: ctx.timeoutS, signal: ctx.signal });
      const nextAt = performance.now();
      const output: ExceptionOutput = { queue, raised, state: failed.state, failedOn: workerOf(failed.meta), next: value, nextOn: workerOf(next.meta), workers: [...group.hostnames] };
      await group.stop();
      await forget([failed, next]);
      return { output, phases: { 'worker start': started - t0, 'call → exception': failedAt - started, 'next call': nextAt - failedAt } };
    } finally {
      await deleteQueues(ctx.app, [queue]);
    }
  },

  verify(_params, _f, o) {
    if (!o.raised) return { ok: false, detail: `get() did not raise the task's exception (state ${o.state ?? 'unknown'})` };
    if (o.raised.type !== 'Exception' || o.raised.message !== 'Booo!') return { ok: false, detail: `get() raised ${o.raised.type}: ${o.raised.message}, expected Exception: Booo!` };
    if (!o.raised.traceback || !o.raised.traceback.includes('Booo!')) return { ok: false, detail: 'the remote traceback did not come back with the exception' };
    if (o.state !== 'FAILURE') return { ok: false, detail: `the failed task's state is ${o.state ?? 'unknown'}, expected FAILURE` };
    if (o.next !== 'still serving') return { ok: false, detail: `the next task returned ${JSON.stringify(o.next)}` };
    if (!o.failedOn || o.failedOn !== o.nextOn) return { ok: false, detail: `the next task ran on ${o.nextOn ?? '?'}, not on the worker that raised (${o.failedOn ?? '?'})` };
    return { ok: true, detail: `get() raised Exception: Booo! with the traceback from ${o.failedOn}; the same worker then served the next task` };
  },
  summarize: (o) => o,
  describe(summary) {
    const o = summary as ExceptionOutput;
    if (!o.raised) return [`result.get() did not raise (state ${o.state ?? 'unknown'})`];
    const last = `${o.raised.type}: ${o.raised.message}`;
    // A JavaScript stack starts with the exception; Python's traceback ends with it: print it once, last.
    const tb = (o.raised.traceback ?? '').split('\n').filter((l, i) => l.trim() !== '' && !(i === 0 && l.trim() === last));
    const shown = tb.slice(0, TRACEBACK_LINES).map((l) => `  ${l}`);
    if (tb.length > TRACEBACK_LINES) shown.push(`  … ${tb.length - TRACEBACK_LINES} more lines in the run record`);
    return [
      `Traceback (remote, from ${o.failedOn ?? 'the worker'}):`,
      ...shown,
      last,
      `then ${o.nextOn ?? '?'} served the next task: ${JSON.stringify(o.next)}`,
    ];
  },
};
