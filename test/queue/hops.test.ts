/**
 * The hops a task passes in a worker (lab/queue/hops.ts), as bench/echo-trace reads them: published on their
 * diagnostics channel with the task's id, in path order, for each pool — and for a pool of children, the parent's
 * side of the trip to a child (a worker thread publishes its own on its own channel).
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { HOPS, HOPS_CHANNEL, MemoryTransports, Worker } from '../../lab/queue/index.js';
import type { HopEvent, PoolKind } from '../../lab/queue/index.js';
import * as tasks from '../fixtures/queue/tasks.js';

const TASKS_MODULE = new URL('../fixtures/queue/tasks.js', import.meta.url);
tasks.app.configFromObject({ broker_url: 'memory://', result_backend: 'memory://', task_default_queue: 'hops-test', result_expires: 300 });
tasks.app.useMemoryTransports(new MemoryTransports());

async function hopsOf(pool: PoolKind): Promise<{ id: string; seen: HopEvent[] }> {
  const seen: HopEvent[] = [];
  const listener = (message: unknown): void => void seen.push(message as HopEvent);
  subscribe(HOPS_CHANNEL, listener);
  const worker = new Worker(tasks.app, { pool, concurrency: 1, include: [TASKS_MODULE] });
  await worker.start();
  try {
    const r = await tasks.echo.delay('hop');
    assert.equal(await r.get({ timeout: 10 }), 'hop');
    // 'stored' is published once the store answered, which may be just after the client read the result.
    for (let i = 0; i < 100 && !seen.some((h) => h.hop === 'stored'); i++) await new Promise((res) => setTimeout(res, 10));
    return { id: r.id, seen };
  } finally {
    unsubscribe(HOPS_CHANNEL, listener);
    await worker.stop({ warm: false });
  }
}

test('async pool: the task passes received, ran, stored — in that order, under its id', async () => {
  const { id, seen } = await hopsOf('async');
  assert.deepEqual(seen, ['received', 'ran', 'stored'].map((hop) => ({ hop, id })));
});

test('threads pool: the parent also publishes the trip to the child and back, in path order', async () => {
  const { id, seen } = await hopsOf('threads');
  assert.deepEqual(seen, ['received', 'to-child', 'from-child', 'ran', 'stored'].map((hop) => ({ hop, id })));
  // The order HOPS documents is the order they came in.
  const order = seen.map((h) => HOPS.indexOf(h.hop));
  assert.deepEqual(order, [...order].sort((a, b) => a - b));
});
