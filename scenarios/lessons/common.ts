/**
 * What the lessons share: queues of their own for each run (so nothing left over from an earlier run, and no
 * other consumer, can take part), deleting them again, reading a result meta straight from the backend (to prove
 * a task never ran), and the quote server's URL or one clear line saying there is none.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleepMs } from 'node:timers/promises';
import { UsageError } from '../../lab/errors.js';
import type { App, AsyncResult, SendOptions, TaskMeta } from '../../lab/queue/index.js';
import type { ScenarioContext } from '../scenario.js';

/** A queue name no earlier run used: lab.lesson.<lesson>.<random>[.<suffix>]. */
export function lessonQueue(lesson: string, suffix?: string): string {
  return `lab.lesson.${lesson}.${randomBytes(4).toString('hex')}${suffix ? `.${suffix}` : ''}`;
}

/** Delete the queues a lesson declared (and their exchanges). Best effort: a lesson's verdict does not hang on it. */
export async function deleteQueues(app: App, queues: readonly string[]): Promise<void> {
  const broker = await app.getBroker().catch(() => null);
  if (!broker) return;
  await Promise.all(queues.map((q) => broker.deleteQueue(q).catch(() => undefined)));
}

/** The meta the backend holds for a task right now (null: no result key at all). */
export async function storedMeta(app: App, id: string): Promise<TaskMeta | null> {
  return (await app.getBackend()).get(id);
}

/** Drop results a lesson read already (Redis keeps them a day otherwise). */
export async function forget(results: readonly AsyncResult[]): Promise<void> {
  await Promise.all(results.map((r) => r.forget().catch(() => undefined)));
}

/** Send a task by name, as the book's delay()/apply_async() do, to a queue of the lesson's. */
export function send(app: App, name: string, args: unknown[], options: SendOptions): Promise<AsyncResult> {
  return app.sendTask(name, args, {}, options);
}

/** The worker node that stored a result (lab workers put it in the meta: celery@<host>-<group>). */
export function workerOf(meta: TaskMeta | null): string | null {
  return typeof meta?.worker === 'string' ? meta.worker : null;
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return sleepMs(ms, undefined, { signal });
}

/** The lab's quote server URL template, or one line saying the lesson needs one. */
export function quotesUrl(ctx: ScenarioContext, latencyMs: number): string {
  if (!ctx.quotesUrl) {
    throw new UsageError('this lab runs no quote server, and the currency fetches need one (a provisioned lab runs it on its "quotes" host, the master by default; the embedded lab starts its own: --embedded)');
  }
  return `${ctx.quotesUrl}&latency_ms=${latencyMs}`;
}

/** Celery's str() of a list of names, for describe lines: "a, b and c". */
export function andList(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/**
 * What most lessons share: one mode (a lesson shows that something happens; there is nothing to compare), one
 * repeat, the lessons' task module, and no default worker — each lesson starts the worker groups it needs.
 */
export const ONE_MODE_LESSON = {
  modes: ['lesson'],
  baseline: 'lesson',
  candidate: 'lesson',
  defaults: { repeat: 1, warmup: 0 },
  tasksModule: new URL('./tasks.js', import.meta.url),
  app: async (): Promise<App> => (await import('./tasks.js')).app,
  needs: { workerGroups: true },
  prepare: (): null => null,
};
