/**
 * The runtime's process-wide state: the Apps created in this process (so the tasks they registered can be found by
 * name) and the running task's context (what `currentTask()` returns).
 *
 * Why on globalThis: two copies of lab can be loaded in one process — a user's tasks module imports its own
 * node_modules/lab, while the worker running it (our `lab worker -A tasks.js`, or a pool child) is another copy of
 * the package. Each copy has its own module-level variables, yet the worker must find the tasks the user's App
 * registered, and `currentTask()` in the user's task must see the context our executor entered. So this state lives
 * on globalThis under a `Symbol.for` key that every copy spells the same — the one place lab touches globalThis.
 * Everything else (the worker, the pool executor, App) asks this module.
 *
 * The key carries a version: a copy of lab whose registry has another shape must use another key (bump it then),
 * never read an object it half understands.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { App } from './app.js';
import type { Task } from './task.js';
import type { TaskContext } from './context.js';

interface SharedRegistry {
  /** Every App created in this process, by any copy of lab. */
  readonly apps: Set<App>;
  /** The context of the task running in this async call chain. */
  readonly taskContext: AsyncLocalStorage<TaskContext>;
}

const KEY = Symbol.for('lab.queue.registry.v1');

const shared: SharedRegistry = ((globalThis as unknown as Record<symbol, SharedRegistry | undefined>)[KEY] ??= {
  apps: new Set<App>(),
  taskContext: new AsyncLocalStorage<TaskContext>(),
});

/** Called by every App as it is constructed. */
export function registerApp(app: App): void {
  shared.apps.add(app);
}

/** Every App created in this process (a pool child finds tasks here after importing the include modules). */
export function allApps(): ReadonlySet<App> {
  return shared.apps;
}

/** The task registered under `name` by any App in the process. */
export function findTask(name: string): Task | undefined {
  for (const app of shared.apps) {
    const t = app.tasks.get(name);
    if (t) return t;
  }
  return undefined;
}

/** Where the running task's context is kept (context.ts enters and reads it). */
export function taskContextStorage(): AsyncLocalStorage<TaskContext> {
  return shared.taskContext;
}
