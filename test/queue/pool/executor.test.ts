/**
 * The pool executor finds tasks through the shared registry — the Apps of any copy of lab in the process — and
 * runs them inside the task context that `currentTask()` reads (also shared). Runs on the main thread, as the
 * async pool does; the thread and process pools run the same function in their children.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { App, currentTask } from '../../../lab/queue/index.js';
import { buildTaskMessage } from '../../../lab/queue/protocol.js';
import { execute } from '../../../lab/queue/pool/executor.js';
import type { Job, JobOutcome } from '../../../lab/queue/pool/job.js';

function job(task: string, args: unknown[], id = `id-${task}`): Job {
  return {
    seq: 1,
    task,
    body: buildTaskMessage(task, { id, args }).body,
    request: { id, task, retries: 0, eta: null, expires: null, group: null, groupIndex: null, rootId: id, parentId: null, hostname: 'celery@test', deliveryInfo: { queue: 'celery', redelivered: false } },
    softTimeLimit: null,
    hardTimeLimit: null,
  };
}

function success(o: JobOutcome): unknown {
  assert.equal(o.kind, 'success', JSON.stringify(o));
  return JSON.parse((o as Extract<JobOutcome, { kind: 'success' }>).resultJson);
}

test("executor: runs a task any App registered, inside the task's context", async () => {
  const app = new App('executor-test');
  app.task('executor.whoami', (x: number) => ({ x, id: currentTask().request.id, task: currentTask().request.task }));
  assert.deepEqual(success(await execute(job('executor.whoami', [7], 'abc'))), { x: 7, id: 'abc', task: 'executor.whoami' });
});

test('executor: a task registered by another copy of lab (same registry key, another App class) is found', async () => {
  // What a second copy of lab (a user's node_modules/lab) does when its App registers: it adds itself to the
  // registry under the same versioned key. Its App and Task are other classes; only their shape is shared.
  const registry = (globalThis as unknown as Record<symbol, { apps: Set<unknown> }>)[Symbol.for('lab.queue.registry.v1')];
  assert.ok(registry?.apps instanceof Set, 'the registry lives under its versioned key');
  const task = { name: 'other-copy.double', fn: (n: number) => 2 * n, options: {}, bindArguments: (args: unknown[]) => args };
  const otherCopyApp = { tasks: new Map([[task.name, task]]), config: { taskMaxRetries: 3, taskDefaultRetryDelay: 180 } };
  registry.apps.add(otherCopyApp);
  try {
    assert.equal(success(await execute(job('other-copy.double', [21]))), 42);
  } finally {
    registry.apps.delete(otherCopyApp);
  }
});

test('executor: an unknown task name is a NotRegistered failure, not a throw', async () => {
  const o = await execute(job('executor.no_such_task', []));
  assert.equal(o.kind, 'failure');
  assert.equal((o as Extract<JobOutcome, { kind: 'failure' }>).exc.exc_type, 'NotRegistered');
});

test("executor: the task's signal aborts by the pool's signal, by its soft time limit, and is there when nothing can abort it", async () => {
  const app = new App('executor-signal-test');
  // Resolves with the abort's reason, or 'not aborted' after `ms`.
  app.task('executor.wait_abort', (ms: number) => {
    const { signal } = currentTask();
    assert.ok(signal instanceof AbortSignal);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve('not aborted'), ms);
      signal.addEventListener('abort', () => (clearTimeout(timer), resolve(String((signal.reason as Error).message))), { once: true });
    });
  });
  // No pool signal, no soft time limit (a prefork child's usual job): a signal that stays quiet.
  assert.equal(success(await execute(job('executor.wait_abort', [30]))), 'not aborted');
  // The pool's signal (the async pool's revoke --terminate) reaches the task.
  const pool = new AbortController();
  const running = execute(job('executor.wait_abort', [5000]), pool.signal);
  setTimeout(() => pool.abort(new Error('terminated by the pool')), 20);
  assert.equal(success(await running), 'terminated by the pool');
  // A soft time limit aborts it; so does the pool's signal when a soft time limit is set too.
  assert.equal(success(await execute({ ...job('executor.wait_abort', [5000]), softTimeLimit: 0.05 }, new AbortController().signal)), 'SoftTimeLimitExceeded(0.05)');
  const both = new AbortController();
  const withLimit = execute({ ...job('executor.wait_abort', [5000]), softTimeLimit: 60 }, both.signal);
  setTimeout(() => both.abort(new Error('terminated before the soft limit')), 20);
  assert.equal(success(await withLimit), 'terminated before the soft limit');
});
