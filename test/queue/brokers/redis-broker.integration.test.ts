/**
 * The Redis broker (kombu's Redis transport) against a real Redis: the broker conformance suite (with what Redis does
 * differently declared in its features), the runtime conformance suite on Redis alone (broker and backend), the
 * wire layout Python Celery reads, ack emulation (a vanished consumer's messages come back after the visibility
 * timeout, exactly once), and refused credentials.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { RedisBroker } from '../../../lab/queue/brokers/redis-broker.js';
import { BrokerError } from '../../../lab/queue/errors.js';
import { SEP, UNACKED, UNACKED_INDEX, bindingKey, listsOf, toEnvelope } from '../../../lab/queue/brokers/redis-envelope.js';
import { buildTaskMessage } from '../../../lab/queue/protocol.js';
import type { Broker } from '../../../lab/queue/broker.js';
import { REDIS_URL, redis } from '../../support/prereq.js';
import { closedPort } from '../../support/tcp-proxy.js';
import { runtimeConformance } from '../runtime-conformance.js';
import { Inbox, brokerConformance, textMessage, uniqueName } from './broker-conformance.js';
import { eventually, sleep } from '../transport-helpers.js';

/** A database of its own: the `unacked` hash and index are per database, shared by every consumer in it. */
const BROKER_URL = REDIS_URL.replace(/\/\d*(\?.*)?$/, '/3$1');
const PREFIX = 'lab-test-redis';

async function cleanup(broker: Broker, declared: { queues: string[]; exchanges: string[] }): Promise<void> {
  const r = new Redis(BROKER_URL, { lazyConnect: true });
  await r.connect();
  try {
    for (const q of declared.queues) await r.del(...listsOf(q));
    for (const x of declared.exchanges) await r.del(bindingKey(x));
  } finally {
    r.disconnect();
  }
  void broker;
}

brokerConformance(
  'redis',
  async () => {
    const b = new RedisBroker(BROKER_URL);
    await b.ready();
    return b;
  },
  cleanup,
  { gate: redis, prefix: PREFIX },
);

runtimeConformance({ name: 'Redis alone (broker and backend)', brokerUrl: BROKER_URL, backendUrl: REDIS_URL, available: redis });

test('redis broker: the wire layout is kombu’s — envelope, priority lists, binding set', async (t) => {
  if (!(await redis(t))) return;
  const broker = new RedisBroker(BROKER_URL);
  const raw = new Redis(BROKER_URL);
  const q = uniqueName(PREFIX, 'layout');
  t.after(async () => {
    await broker.deleteQueue(q);
    await broker.close();
    raw.disconnect();
  });
  await broker.declare({ name: q });
  assert.deepEqual(await raw.smembers(bindingKey(q)), [`${q}${SEP}${SEP}${q}`]);
  const message = buildTaskMessage('test.echo', { id: 'layout-1', args: ['hi'] });
  message.properties.priority = 5;
  await broker.publish(message, { queue: q, exchange: q, routingKey: q });
  assert.equal(await raw.llen(q), 0, 'priority 5 does not go to the step-0 list');
  const [text] = await raw.lrange(`${q}${SEP}3`, 0, -1);
  const e = JSON.parse(text!) as Record<string, any>;
  assert.equal(Buffer.from(e.body, 'base64').toString(), message.body.toString());
  assert.equal(e['content-type'], 'application/json');
  assert.equal(e.headers.task, 'test.echo');
  assert.equal(e.headers.id, 'layout-1');
  assert.deepEqual(e.properties.delivery_info, { exchange: q, routing_key: q });
  assert.equal(e.properties.body_encoding, 'base64');
  assert.equal(e.properties.priority, 5);
  assert.match(e.properties.delivery_tag, /^[0-9a-f-]{36}$/);
  assert.equal(await broker.purge(q), 1);
});

test('redis broker: what a vanished consumer left unacked comes back after the visibility timeout, exactly once', async (t) => {
  if (!(await redis(t))) return;
  const q = uniqueName(PREFIX, 'visibility');
  const raw = new Redis(BROKER_URL);
  // Two live consumers on brokers with a 1 s visibility timeout race to restore the dead one's message.
  const a = new RedisBroker(BROKER_URL, { visibilityTimeoutS: 1 });
  const b = new RedisBroker(BROKER_URL, { visibilityTimeoutS: 1 });
  t.after(async () => {
    await Promise.all([a.close(), b.close()]);
    await raw.del(...listsOf(q), bindingKey(q));
    raw.disconnect();
  });
  await a.declare({ name: q });
  // What a worker killed -9 leaves behind: the message in `unacked`, indexed at its delivery time (2 s ago).
  const e = toEnvelope(textMessage('orphan'), '', q);
  const tag = e.properties.delivery_tag;
  await raw.multi().zadd(UNACKED_INDEX, Date.now() / 1000 - 2, tag).hset(UNACKED, tag, JSON.stringify([e, '', q])).exec();
  const inbox = new Inbox();
  const ca = await a.consume([q], { prefetch: 5 }, inbox.handler);
  const cb = await b.consume([q], { prefetch: 5 }, inbox.handler);
  t.after(async () => {
    await ca.cancel();
    await cb.cancel();
  });
  const d = await inbox.next(5000);
  assert.equal(d.body.toString(), 'orphan');
  assert.equal(d.redelivered, true);
  d.ack();
  await inbox.none(1500);
  assert.equal(await raw.hexists(UNACKED, tag), 0);
  assert.equal(await raw.zscore(UNACKED_INDEX, tag), null);
});

test('redis broker: a held message is in `unacked` until acked; reject(requeue) and cancel put it back marked redelivered', async (t) => {
  if (!(await redis(t))) return;
  const q = uniqueName(PREFIX, 'unacked');
  const broker = new RedisBroker(BROKER_URL);
  const raw = new Redis(BROKER_URL);
  t.after(async () => {
    await broker.deleteQueue(q);
    await broker.close();
    raw.disconnect();
  });
  await broker.declare({ name: q });
  await broker.publish(textMessage('held'), { queue: q });
  const inbox = new Inbox();
  const c = await broker.consume([q], { prefetch: 1 }, inbox.handler);
  const d = await inbox.next();
  const entries = await raw.hgetall(UNACKED);
  const mine = Object.values(entries).filter((v) => v.includes(Buffer.from('held').toString('base64')));
  assert.equal(mine.length, 1, 'recorded in unacked while held');
  d.reject(true);
  const again = await inbox.next();
  assert.equal(again.redelivered, true);
  await c.cancel();
  await eventually(() => broker.stats(q), (s) => s.messages === 1);
  const [text] = await raw.lrange(q, 0, -1);
  assert.equal((JSON.parse(text!) as { properties: { delivery_info: { redelivered: boolean } } }).properties.delivery_info.redelivered, true);
});

test('redis broker: refused credentials and a closed port are one-line BrokerErrors with the password masked', async (t) => {
  if (!(await redis(t))) return;
  const dir = await mkdtemp(join(tmpdir(), 'lab-redis-auth-'));
  const port = await closedPort();
  const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--requirepass', 'the-right-one', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  t.after(async () => {
    server.kill('SIGTERM');
    await rm(dir, { recursive: true, force: true });
  });
  const probe = new Redis({ port, host: '127.0.0.1', password: 'the-right-one', lazyConnect: true, retryStrategy: () => null });
  probe.on('error', () => undefined);
  await eventually(() => probe.connect().then(() => true, () => false), (ok) => ok, 5000);
  probe.disconnect();
  const wrong = new RedisBroker(`redis://:not-the-password@127.0.0.1:${port}/0`);
  t.after(() => wrong.close());
  await assert.rejects(wrong.ready(), (err: unknown) => {
    assert.ok(err instanceof BrokerError);
    assert.equal(err.code, 'E_BROKER_AUTH');
    assert.equal(err.exitCode, 2);
    assert.match(err.message, /^redis:\/\/:\*\*\*\*@127\.0\.0\.1:\d+\/0: WRONGPASS/);
    assert.ok(!err.message.includes('not-the-password') && !err.message.includes('\n'));
    return true;
  });
  const right = new RedisBroker(`redis://:the-right-one@127.0.0.1:${port}/0`);
  t.after(() => right.close());
  await right.ready();
  const nothing = new RedisBroker(`redis://127.0.0.1:${await closedPort()}/0`, { connectTimeoutMs: 1000 });
  t.after(() => nothing.close());
  await assert.rejects(nothing.ready(), (err: unknown) => err instanceof BrokerError && err.code === 'E_BROKER_UNAVAILABLE' && err.exitCode === 1);
  await sleep(10);
});
