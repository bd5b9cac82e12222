import test from 'node:test';
import assert from 'node:assert/strict';
import { App, MemoryTransports, Worker } from '../../lab/queue/index.js';
import { canaryRoute } from '../../lab/services/workers.js';

const TASKS = new URL('../fixtures/queue/tasks.js', import.meta.url);

test("a canary goes to the worker's own direct queue when that worker consumes one, else to the host's queue", async (t) => {
  const hub = new MemoryTransports();
  const app = new App('canary-test', { broker: 'memory://', backend: 'memory://' }).useMemoryTransports(hub);
  const workers: Worker[] = [];
  t.after(async () => {
    await Promise.all(workers.map((w) => w.stop({ warm: false })));
    await app.close();
    await hub.close();
  });
  // no worker at all: the host's queue
  assert.deepEqual(await canaryRoute(app, 'celery@HOST3', 'celery'), { queue: 'celery' });
  // a worker of an older lab (no worker-direct queue): the host's queue
  const old = new Worker(app, { hostname: 'celery@HOST5', pool: 'async', concurrency: 1, include: [TASKS] });
  workers.push(old);
  await old.start();
  assert.deepEqual(await canaryRoute(app, 'celery@HOST5', 'celery'), { queue: 'celery' });
  // lab's workers run with --worker-direct: the canary can only reach that one
  const direct = new Worker(app, { hostname: 'celery@HOST3', pool: 'async', concurrency: 1, include: [TASKS], workerDirect: true });
  workers.push(direct);
  await direct.start();
  assert.deepEqual(await canaryRoute(app, 'celery@HOST3', 'celery'), { queue: 'celery@HOST3.dq2', exchange: 'C.dq2', routingKey: 'celery@HOST3' });
  // another node's direct queue is not this one's
  assert.deepEqual(await canaryRoute(app, 'celery@HOST6', 'celery'), { queue: 'celery' });
});
