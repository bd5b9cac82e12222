/**
 * The result backend goes away while a worker runs tasks (Redis behind a proxy the test cuts): no result is lost, no
 * false "could not store" error is logged for results that get through once it is back (one warning per outage,
 * one line when it is back), and the worker keeps at most `maxPendingResults` tasks in hand — the rest of the queue
 * waits in the broker until the backend answers again.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { App, Worker } from '../../lab/queue/index.js';
import type { WorkerLogger } from '../../lab/queue/index.js';
import { RABBITMQ_URL, REDIS_URL, endpointOf, rabbitmq, redis } from '../support/prereq.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { eventually, sleep } from './transport-helpers.js';

const TASKS = new URL('../fixtures/queue/tasks.js', import.meta.url);

test('Redis away for a few seconds: every result arrives, one warning and one "back" line, no errors; tasks beyond the limit wait in the broker', async (t) => {
  if (!(await rabbitmq(t)) || !(await redis(t))) return;
  const { host, port } = endpointOf(REDIS_URL);
  const proxy = await TcpProxy.start(port, host);
  const through = new URL(REDIS_URL);
  through.hostname = '127.0.0.1';
  through.port = String(proxy.port);
  // Reads give up after 1 s: a store must not (it used to fail here and then arrive anyway, a false error).
  through.searchParams.set('socket_timeout', '1');
  const backend = through.toString();
  const queue = `lab-test-outage-${randomBytes(3).toString('hex')}`;
  const lines: { level: string; text: string }[] = [];
  const logger: WorkerLogger = { enabled: () => true, log: (level, text) => void lines.push({ level, text }) };
  const app = new App('outage', { broker: RABBITMQ_URL, backend, include: [TASKS], config: { task_default_queue: queue, result_expires: 120 } });
  const worker = new Worker(app, { pool: 'async', concurrency: 2, queues: [queue], maxPendingResults: 5, storeDelayWarningMs: 500, logger });
  // The client reads results straight from Redis, not through the proxy the test cuts.
  const client = new App('outage-client', { broker: RABBITMQ_URL, backend: REDIS_URL, config: { task_default_queue: queue, result_expires: 120 } });
  t.after(async () => {
    await worker.stop({ warm: false }).catch(() => undefined);
    const broker = await client.getBroker().catch(() => null);
    await broker?.deleteQueue(queue).catch(() => undefined);
    await Promise.all([app.close(), client.close()]);
    await proxy.close();
  });
  await worker.start();
  assert.equal(await (await client.sendTask('test.echo', ['before'])).get({ timeout: 10 }), 'before');

  proxy.pause();
  const sent = await Promise.all(Array.from({ length: 30 }, (_, i) => client.sendTask('test.echo', [`during ${i}`])));
  const broker = await client.getBroker();
  // Five tasks in hand at most (plus what the prefetch window holds unacked): the rest stays in the queue.
  await eventually(() => broker.stats(queue), (s) => s.messages >= 30 - 5 - 2 * 4, 5000);
  await sleep(1500);
  assert.ok((await broker.stats(queue)).messages >= 30 - 5 - 2 * 4, 'the queue still holds what the worker did not take');
  const warned = lines.filter((l) => l.level === 'warning' && /has not answered/.test(l.text));
  assert.equal(warned.length, 1, `one warning per outage: ${warned.map((w) => w.text).join(' | ')}`);

  proxy.resume();
  const values = await Promise.all(sent.map((r) => r.get({ timeout: 30 })));
  assert.deepEqual(values, sent.map((_, i) => `during ${i}`));
  await eventually(async () => lines.filter((l) => /the result backend is back/.test(l.text)).length, (n) => n === 1, 5000);
  const errors = lines.filter((l) => l.level === 'error');
  assert.deepEqual(errors.map((e) => e.text), [], 'no "could not store" error for results that got through');
});
