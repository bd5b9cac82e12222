/**
 * A scenario run against RabbitMQ + Redis that already run, with the workers in this process: the default worker
 * on the queue `--queue` names, and worker groups that start and stop within the run.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { App } from '../../lab/queue/index.js';
import { runHere } from '../../lab/harness/run-here.js';
import { openServicesSession } from '../../lab/harness/services-session.js';
import { echoScenario } from '../../scenarios/echo/echo.js';
import { RABBITMQ_URL, REDIS_URL, rabbitmq, redis } from '../support/prereq.js';

test('echo on RabbitMQ + Redis through a queue of its own: every reply verified', async (t) => {
  if (!(await rabbitmq(t)) || !(await redis(t))) return;
  const queue = `lab.test.services.${randomBytes(3).toString('hex')}`;
  t.after(async () => {
    const app = new App('cleanup', { broker: RABBITMQ_URL });
    await (await app.getBroker()).deleteQueue(queue);
    await app.close();
  });
  const record = await runHere({
    scenario: echoScenario,
    raw: { message: 'through a queue of its own' },
    repeat: 20,
    warmup: 2,
    timeout: 20,
    queue,
    signal: new AbortController().signal,
    openLab: (s) => openServicesSession(s, { broker: RABBITMQ_URL, backend: REDIS_URL, queue, concurrency: 2 }),
  });
  assert.equal(record.verified, true, record.points[0]?.verify.detail);
  assert.equal(record.lab.kind, 'services');
  assert.equal(record.points[0]!.stats.distributed!.total.n, 20);
});
