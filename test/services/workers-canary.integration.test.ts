import test from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { App, Worker } from '../../lab/queue/index.js';
import { canaryRoute } from '../../lab/services/workers.js';
import { RABBITMQ_URL, rabbitmq } from '../support/prereq.js';

const TASKS = new URL('../fixtures/queue/tasks.js', import.meta.url);

test("on RabbitMQ: a node without a direct queue (the broker answers 404) gets the host's queue; one that consumes its own, that queue", async (t) => {
  if (!(await rabbitmq(t))) return;
  const tag = randomBytes(3).toString('hex');
  const node = `canary-${tag}@test`;
  const app = new App(`canary-${tag}`, { broker: RABBITMQ_URL, backend: null, config: { task_default_queue: `canary-${tag}` } });
  const worker = new Worker(app, { hostname: node, pool: 'async', concurrency: 1, include: [TASKS], workerDirect: true, remoteControl: false });
  t.after(async () => {
    await worker.stop({ warm: false }).catch(() => undefined);
    const broker = await app.getBroker();
    for (const q of [`${node}.dq2`, `canary-${tag}`]) await broker.deleteQueue(q).catch(() => undefined);
    await app.close();
  });
  assert.deepEqual(await canaryRoute(app, node, `canary-${tag}`), { queue: `canary-${tag}` });
  await worker.start();
  assert.deepEqual(await canaryRoute(app, node, `canary-${tag}`), { queue: `${node}.dq2`, exchange: 'C.dq2', routingKey: node });
  // the broker connection survived the 404 and carries on
  assert.equal((await (await app.getBroker()).stats(`canary-${tag}`)).consumers, 1);
});
