/**
 * The lessons' tasks (app "lessons"): the book's echo, its get_rate modified to raise Exception('Booo!'), a task
 * that fails its first k attempts and retries, and a fire-and-forget task declared with ignore_result. Importing
 * this module also registers mergesort.sort and currency.get_rate, so a worker group started with this module
 * serves the routing and pools lessons too (a lab worker started with -A scenarios loads all of them anyway).
 */
import { App, currentTask } from '../../lab/queue/index.js';
import '../mergesort/tasks.js';
import '../currency/tasks.js';

export const app = new App('lessons', { include: [new URL('./tasks.js', import.meta.url)] });

/** Python's bare Exception, so the caller sees `Exception: Booo!` as in the book (the stack says so too). */
export class Exception extends Error {}
Exception.prototype.name = 'Exception';

/** The book's test.echo, under the lessons' name. */
export const echo = app.task('lessons.echo', (message: unknown) => message, { params: ['message'] });

/** Same body as echo, declared as the book advises for results nobody reads: @task(ignore_result=True). */
export const fire = app.task('lessons.fire', (message: unknown) => message, { params: ['message'], ignoreResult: true });

/** The book's get_rate after its edit on HOST3: `raise Exception('Booo!')`. */
export const booo = app.task(
  'lessons.booo',
  (_pair: string, _url_tmplt?: string): never => {
    throw new Exception('Booo!');
  },
  { params: ['pair', 'url_tmplt'] },
);

export interface FlakyResult {
  /** The id the task ran under on its last attempt (a retry keeps the id). */
  id: string;
  /** 1 + the retries before this attempt. */
  attempts: number;
  /** The worker node that ran the last attempt. */
  hostname: string;
}

/** Fails its first `k` attempts; each failure retries with `countdown` seconds (Celery's self.retry(countdown=…)). */
export const flaky = app.task(
  'lessons.flaky',
  (k: number, countdown: number): FlakyResult => {
    const task = currentTask();
    const { id, retries, hostname } = task.request;
    if (retries < k) task.retry({ countdown, exc: new Exception(`attempt ${retries + 1} of ${k + 1} fails on purpose`), maxRetries: k });
    return { id, attempts: retries + 1, hostname };
  },
  { params: ['k', 'countdown'] },
);
