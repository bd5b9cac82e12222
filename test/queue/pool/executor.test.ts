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
