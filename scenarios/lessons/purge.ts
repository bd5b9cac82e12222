/**
 * The book: the task queue is persistent, so requests sent while no worker ran are taken by the next worker that
 * starts — unless you clear the queue first: `celery purge` … "Purged 12 messages from 1 known task queue."
 */
import { performance } from 'node:perf_hooks';
import type { Scenario } from '../scenario.js';
import { ONE_MODE_LESSON, deleteQueues, forget, lessonQueue, send, storedMeta } from './common.js';

export interface PurgeParams extends Record<string, unknown> {
  n: number;
}

export interface PurgeOutput {
  queue: string;
  sent: number;
  /** Messages the queue held before the purge, and what purge() said it removed. */
  waiting: number;
  purged: number;
  control: unknown;
  /** Of the n purged tasks, how many have a result stored after a worker served the queue (expected: none). */
  ran: number;
}

export const purgeLesson: Scenario<PurgeParams, null, PurgeOutput> = {
  name: 'purge',
  summary: 'lesson: `celery purge` removes the waiting requests, and none of them runs afterwards',
  description:
    'The book sends requests with no worker running, then clears them with `celery purge` ("Purged 12 messages ' +
    'from 1 known task queue."). This lesson sends n tasks to a queue of its own with no consumer, purges it, ' +
    'starts a worker for the queue and sends a control task. Checked: purge reports exactly n, the control task ' +
    'runs, and none of the n tasks has a result.',
  examples: [
    ['$0 run purge', "the book's 12 messages"],
    ['$0 run purge --n 1000', 'a thousand'],
  ],
  params: {
    n: { type: 'int', describe: 'tasks sent before the purge', default: 12, min: 1, max: 100_000 },
  },
  ...ONE_MODE_LESSON,
  smoke: { params: { n: '5' } },
  lesson: 'requests wait in the queue until a worker comes; `celery purge` removes them ("Purged 12 messages")',

  async run(_mode, params, _fixture, ctx) {
    const queue = lessonQueue('purge');
    try {
      const t0 = performance.now();
      const results = await Promise.all(Array.from({ length: params.n }, (_, i) => send(ctx.app, 'lessons.echo', [`request ${i + 1}`], { queue })));
      const sentAt = performance.now();
      const broker = await ctx.app.getBroker();
      const waiting = (await broker.stats(queue)).messages;
      const purged = await broker.purge(queue);
      const purgedAt = performance.now();
      const group = await ctx.workers.start({ name: 'after', queues: [queue], pool: 'threads', concurrency: 2 });
      const started = performance.now();
      const control = await send(ctx.app, 'lessons.echo', ['control'], { queue });
      const value = await control.get({ timeout: ctx.timeoutS, signal: ctx.signal });
      const controlAt = performance.now();
      const metas = await Promise.all(results.map((r) => storedMeta(ctx.app, r.id)));
      await group.stop();
      (await ctx.app.getBackend()).unwatch(results.map((r) => r.id));
      await forget([control]);
      return {
        output: { queue, sent: params.n, waiting, purged, control: value, ran: metas.filter((m) => m !== null).length },
        phases: { send: sentAt - t0, purge: purgedAt - sentAt, 'worker start': started - purgedAt, 'control task': controlAt - started },
      };
    } finally {
      await deleteQueues(ctx.app, [queue]);
    }
  },

  verify(params, _f, o) {
    if (o.purged !== params.n) return { ok: false, detail: `purge removed ${o.purged} messages, expected the ${params.n} sent (the queue held ${o.waiting})` };
    if (o.control !== 'control') return { ok: false, detail: `the control task returned ${JSON.stringify(o.control)}` };
    if (o.ran !== 0) return { ok: false, detail: `${o.ran} of the ${params.n} purged tasks ran after all` };
    return { ok: true, detail: `purged ${o.purged} messages from 1 queue; a worker started afterwards ran the control task and none of the ${params.n}` };
  },
  summarize: (o) => o,
  describe(summary) {
    const o = summary as PurgeOutput;
    return [
      `${o.sent} tasks sent with no worker: ${o.waiting} waiting in ${o.queue}`,
      `Purged ${o.purged} message${o.purged === 1 ? '' : 's'} from 1 known task queue.`,
      `a worker started afterwards: control task ${JSON.stringify(o.control)}; purged tasks with a result: ${o.ran}`,
    ];
  },
};
