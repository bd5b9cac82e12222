/**
 * The book: "you can cancel a task request (see the expires argument of apply_async)". A task whose expiry passes
 * before a worker runs it is never run. Where it waited decides what the caller sees, as with Python Celery:
 * - waiting in the broker (no worker yet): the message carries a TTL, so RabbitMQ (and the embedded broker) drop
 *   it; no result is ever stored and the caller's get() times out;
 * - held by a worker (here: its countdown runs past its expiry): the worker finds it expired when it is due and
 *   stores REVOKED, and the caller's get() raises TaskRevokedError.
 */
import { performance } from 'node:perf_hooks';
import { TaskRevokedError, TaskTimeoutError } from '../../lab/queue/index.js';
import type { AsyncResult } from '../../lab/queue/index.js';
import { formatMs } from '../../lab/report/format.js';
import type { Scenario } from '../scenario.js';
import { ONE_MODE_LESSON, deleteQueues, forget, lessonQueue, send, sleep, storedMeta } from './common.js';

export interface ExpiresParams extends Record<string, unknown> {
  expires: number;
}

/** What the caller's get() did: timed out (no result ever came), raised TaskRevokedError, or returned (it ran). */
export type CallerSaw = 'timeout' | 'revoked' | 'result' | 'failure';

export interface ExpiredTask {
  id: string;
  /** Where it waited while its expiry passed. */
  waited: 'broker' | 'worker';
  callerSaw: CallerSaw;
  /** The state the backend holds for it afterwards (null: no result key). */
  stored: string | null;
}

export interface ExpiresOutput {
  queue: string;
  /** Messages in the queue once the expiry had passed, before any worker (the broker may have dropped it already). */
  inQueueAfterExpiry: number;
  control: unknown;
  tasks: ExpiredTask[];
}

/** How long the caller waits for the task that expired in the broker (the book's get(timeout=1)). */
const CALLER_TIMEOUT_S = 1;

async function callerSees(r: AsyncResult, timeoutS: number, signal: AbortSignal): Promise<CallerSaw> {
  try {
    await r.get({ timeout: timeoutS, signal });
    return 'result';
  } catch (err) {
    if (err instanceof TaskTimeoutError) return 'timeout';
    if (err instanceof TaskRevokedError) return 'revoked';
    if (signal.aborted) throw err;
    return 'failure';
  }
}

const RAN = new Set(['SUCCESS', 'FAILURE', 'STARTED', 'RETRY']);

export const expiresLesson: Scenario<ExpiresParams, null, ExpiresOutput> = {
  name: 'expires',
  summary: "lesson: a task whose expiry passes before it runs is cancelled (apply_async's expires)",
  description:
    "The book names apply_async's expires argument as the way to cancel a request that was not run in time. Two " +
    'tasks get an expiry of --expires seconds: one waits in the broker with no worker until it has expired, the ' +
    'other is held by a worker (its countdown is longer than its expiry). A worker then starts and runs a control ' +
    'task. Checked: the control task ran, and neither expired task ever ran (no SUCCESS or FAILURE stored). Shown: ' +
    'what the caller saw for each — the broker dropped the first (message TTL: get() times out), the worker ' +
    'stored REVOKED for the second (get() raises TaskRevokedError).',
  examples: [
    ['$0 run expires', 'expiry of 1 s'],
    ['$0 run expires --expires 0.3', 'a shorter expiry'],
  ],
  params: {
    expires: { type: 'number', describe: 'seconds until the tasks expire (apply_async(expires=…))', default: 1, min: 0.1, max: 60 },
  },
  ...ONE_MODE_LESSON,
  lesson: "a request not run in time can be cancelled with apply_async's expires",

  async run(_mode, params, _fixture, ctx) {
    const queue = lessonQueue('expires');
    try {
      const t0 = performance.now();
      const inBroker = await send(ctx.app, 'lessons.echo', ['expired in the broker'], { queue, expires: params.expires });
      await sleep(params.expires * 1000 + 100, ctx.signal);
      const inQueueAfterExpiry = (await (await ctx.app.getBroker()).stats(queue)).messages;
      const expired = performance.now();
      const group = await ctx.workers.start({ name: 'late', queues: [queue], pool: 'threads', concurrency: 1 });
      const started = performance.now();
      // Held by the worker: due after its expiry, so the worker finds it expired when the countdown ends.
      const held = await send(ctx.app, 'lessons.echo', ['expired in the worker'], { queue, expires: params.expires, countdown: params.expires + 0.3 });
      const control = await send(ctx.app, 'lessons.echo', ['control'], { queue });
      const value = await control.get({ timeout: ctx.timeoutS, signal: ctx.signal });
      const controlAt = performance.now();
      const [sawBroker, sawWorker] = await Promise.all([callerSees(inBroker, CALLER_TIMEOUT_S, ctx.signal), callerSees(held, ctx.timeoutS + params.expires, ctx.signal)]);
      const doneAt = performance.now();
      const [mBroker, mWorker] = await Promise.all([storedMeta(ctx.app, inBroker.id), storedMeta(ctx.app, held.id)]);
      await group.stop();
      await forget([inBroker, held, control]);
      return {
        output: {
          queue,
          inQueueAfterExpiry,
          control: value,
          tasks: [
            { id: inBroker.id, waited: 'broker', callerSaw: sawBroker, stored: mBroker?.status ?? null },
            { id: held.id, waited: 'worker', callerSaw: sawWorker, stored: mWorker?.status ?? null },
          ],
        },
        phases: { 'wait past expiry': expired - t0, 'worker start': started - expired, 'control task': controlAt - started, 'callers see': doneAt - controlAt },
      };
    } finally {
      await deleteQueues(ctx.app, [queue]);
    }
  },

  verify(_params, _f, o) {
    if (o.control !== 'control') return { ok: false, detail: `the control task returned ${JSON.stringify(o.control)}: the worker did not serve the queue` };
    for (const t of o.tasks) {
      if ((t.stored && RAN.has(t.stored)) || t.callerSaw === 'result' || t.callerSaw === 'failure') {
        return { ok: false, detail: `the task that expired in the ${t.waited} ran anyway (stored ${t.stored ?? 'nothing'}, the caller saw ${t.callerSaw})` };
      }
    }
    const held = o.tasks.find((t) => t.waited === 'worker');
    if (held && (held.stored !== 'REVOKED' || held.callerSaw !== 'revoked')) return { ok: false, detail: `the worker did not store REVOKED for the task it held past its expiry (stored ${held.stored ?? 'nothing'}, the caller saw ${held.callerSaw})` };
    return { ok: true, detail: `neither expired task ran: ${o.tasks.map(happened).join('; ')}` };
  },
  summarize: (o) => o,
  describe(summary) {
    const o = summary as ExpiresOutput;
    return [
      `after the expiry, before any worker: ${o.inQueueAfterExpiry} message${o.inQueueAfterExpiry === 1 ? '' : 's'} in ${o.queue}`,
      ...o.tasks.map((t) => `task ${t.id} ${happened(t)}`),
      `control task: ${JSON.stringify(o.control)}`,
    ];
  },
};

function happened(t: ExpiredTask): string {
  const where = t.waited === 'broker' ? 'expired waiting in the broker' : 'expired while a worker held it';
  const what =
    t.stored === null && t.callerSaw === 'timeout'
      ? 'the broker dropped it (message TTL), no result stored: the caller\'s get() timed out'
      : t.stored === 'REVOKED'
        ? `the worker stored REVOKED: the caller's get() ${t.callerSaw === 'revoked' ? 'raised TaskRevokedError' : `saw ${t.callerSaw}`}`
        : `stored ${t.stored ?? 'nothing'}, the caller saw ${t.callerSaw}`;
  return `${where}: ${what}`;
}
