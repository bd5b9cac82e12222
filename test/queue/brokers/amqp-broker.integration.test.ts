/**
 * Tier 2: the AMQP broker adapter against the real RabbitMQ on this machine. The same conformance suite as the
 * memory broker, plus what only a real server shows: refused credentials and vhosts, connection loss and recovery
 * (server-side close of *our* connection, never a service restart), pipelined publishing. Every test is gated by
 * `rabbitmq(t)`.
 */
import test from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { connect as amqpConnect } from 'amqplib';
import type { Channel } from 'amqplib';
import { AmqpBroker } from '../../../lab/queue/brokers/amqp-broker.js';
import { createBroker } from '../../../lab/queue/transports.js';
import { BrokerError } from '../../../lab/queue/errors.js';
import { buildTaskMessage } from '../../../lab/queue/protocol.js';
import type { Broker } from '../../../lab/queue/broker.js';
import type { ConnectionStatus } from '../../../lab/queue/connection.js';
import { RABBITMQ_URL, needs, rabbitmq } from '../../support/prereq.js';
import { TcpProxy, closedPort } from '../../support/tcp-proxy.js';
import { eventually, sleep, urlPort, waitForStatus, withPassword } from '../transport-helpers.js';
import { Inbox, brokerConformance, textMessage, uniqueName } from './broker-conformance.js';
import type { Declared } from './broker-conformance.js';

const execFileP = promisify(execFile);
const PREFIX = 'lab-test';

// ------------------------------------------------------------------------------------------------ helpers

/**
 * Delete what a test declared over a connection of its own, so cleanup works whatever state the broker under test
 * is in (closed, reconnecting behind a cut proxy…).
 */
async function amqpCleanup(_broker: Broker | null, declared: Declared): Promise<void> {
  if (declared.queues.length === 0 && declared.exchanges.length === 0) return;
  const conn = await amqpConnect(RABBITMQ_URL);
  conn.on('error', () => undefined);
  try {
    const each = async (op: (ch: Channel) => Promise<unknown>): Promise<void> => {
      const ch = await conn.createChannel();
      ch.on('error', () => undefined); // a missing queue/exchange closes only this channel
      await op(ch).catch(() => undefined);
      await ch.close().catch(() => undefined);
    };
    for (const q of declared.queues) await each((ch) => ch.deleteQueue(q));
    for (const x of declared.exchanges) await each((ch) => ch.deleteExchange(x));
  } finally {
    await conn.close().catch(() => undefined);
  }
}

const rabbitmqctl = (t: TestContext): Promise<boolean> =>
  needs(t, 'rabbitmqctl (to close our own connection server-side)', async () => {
    try {
      await execFileP('rabbitmqctl', ['-q', 'list_connections', 'name', '--formatter', 'json'], { timeout: 30_000 });
      return null;
    } catch (err) {
      return `rabbitmqctl list_connections failed: ${(err as Error).message.split('\n')[0]}`;
    }
  });

/** Close, from the server side, only the connection(s) carrying this client-provided connection_name. */
async function closeOurAmqpConnection(connectionName: string): Promise<number> {
  // Tab-separated: <rabbit@host.N.M.0>\t[{"connection_name","lab-…"},…] (the JSON formatter prints pids that
  // close_connection does not accept).
  const { stdout } = await execFileP('rabbitmqctl', ['-q', 'list_connections', 'pid', 'client_properties'], { timeout: 30_000 });
  const ours = stdout
    .split('\n')
    .map((line) => line.split('\t'))
    .filter(([pid, props]) => pid?.startsWith('<') && props?.includes(`{"connection_name","${connectionName}"}`))
    .map(([pid]) => pid);
  for (const pid of ours) await execFileP('rabbitmqctl', ['-q', 'close_connection', pid, 'lab integration test: simulated broker restart'], { timeout: 30_000 });
  return ours.length;
}

async function newBroker(t: TestContext, url = RABBITMQ_URL, options: ConstructorParameters<typeof AmqpBroker>[1] = {}): Promise<{ broker: AmqpBroker; queue: (decl?: { maxPriority?: number }) => Promise<string> }> {
  const broker = new AmqpBroker(url, options);
  const declared: Declared = { queues: [], exchanges: [] };
  t.after(async () => {
    try {
      await broker.close();
    } finally {
      await amqpCleanup(null, declared);
    }
  });
  await broker.ready();
  return {
    broker,
    async queue(decl = {}) {
      const name = uniqueName(PREFIX, 'it');
      declared.queues.push(name);
      declared.exchanges.push(name);
      await broker.declare({ name, ...decl });
      return name;
    },
  };
}

// ------------------------------------------------------------------------------------------------ conformance

brokerConformance(
  'amqp',
  async () => {
    const b = new AmqpBroker(RABBITMQ_URL);
    await b.ready();
    return b;
  },
  amqpCleanup,
  { gate: rabbitmq, prefix: PREFIX },
);

// ------------------------------------------------------------------------------------------------ AMQP specifics

test('amqp: wrong password → BrokerError E_BROKER_AUTH, one line, masked URL', async (t) => {
  if (!(await rabbitmq(t))) return;
  const url = withPassword(RABBITMQ_URL, 'guest', 'definitely-wrong');
  const broker = new AmqpBroker(url);
  t.after(() => broker.close());
  await assert.rejects(broker.ready(), (err: unknown) => {
    assert.ok(err instanceof BrokerError, String(err));
    assert.equal(err.code, 'E_BROKER_AUTH');
    assert.match(err.message, /^amqp:\/\/guest:\*\*\*\*@127\.0\.0\.1:5672\/\/: ACCESS_REFUSED - /);
    assert.ok(!err.message.includes('definitely-wrong'));
    assert.ok(!err.message.includes('\n'));
    return true;
  });
  // A publish on a broker that cannot connect is rejected, not lost.
  await assert.rejects(broker.publish(textMessage('x'), { queue: 'nowhere' }), BrokerError);
});

test('amqp: refused port and missing vhost → one-line BrokerError naming the masked URL', async (t) => {
  if (!(await rabbitmq(t))) return;
  const port = await closedPort();
  const refused = new AmqpBroker(withPassword(urlPort(RABBITMQ_URL, port), 'lab', 's3cret'));
  t.after(() => refused.close());
  await assert.rejects(refused.ready(), (err: unknown) => {
    assert.ok(err instanceof BrokerError);
    assert.equal(err.code, 'E_BROKER_UNAVAILABLE');
    assert.equal(err.message, `amqp://lab:****@127.0.0.1:${port}//: connect ECONNREFUSED 127.0.0.1:${port}`);
    return true;
  });
  const vhost = new AmqpBroker(RABBITMQ_URL.replace(/\/\/?$/, '/no-such-vhost-lab'));
  t.after(() => vhost.close());
  await assert.rejects(vhost.ready(), (err: unknown) => {
    assert.ok(err instanceof BrokerError);
    assert.equal(err.code, 'E_BROKER_VHOST');
    assert.match(err.message, /no-such-vhost-lab/);
    assert.ok(!err.message.includes('\n'));
    return true;
  });
});

test('amqp: pyamqp:// URLs and the transports factory', async (t) => {
  if (!(await rabbitmq(t))) return;
  const broker = await createBroker(RABBITMQ_URL.replace(/^amqp:/, 'pyamqp:'));
  t.after(() => broker.close());
  assert.equal(broker.kind, 'amqp');
  assert.equal(broker.displayUrl, 'pyamqp://guest:****@127.0.0.1:5672//');
  await broker.ready();
  assert.equal(broker.status, 'ready');
  await broker.close();
  await broker.close(); // idempotent
  assert.equal(broker.status, 'closed');
  await assert.rejects(broker.publish(textMessage('late'), { queue: 'x' }), (e: unknown) => e instanceof BrokerError && e.code === 'E_BROKER_CLOSED');
});

test('amqp: declarations are exactly what Celery/kombu declare (a Celery re-declare is accepted)', async (t) => {
  if (!(await rabbitmq(t))) return;
  const { queue } = await newBroker(t);
  const plain = await queue();
  const prio = await queue({ maxPriority: 10 });
  const conn = await amqpConnect(RABBITMQ_URL);
  t.after(() => conn.close().catch(() => undefined));
  conn.on('error', () => undefined);
  const ch = await conn.createChannel();
  ch.on('error', () => undefined);
  // kombu: Exchange(name, 'direct', durable=True, auto_delete=False); Queue(durable=True, exclusive=False, auto_delete=False)
  await ch.assertExchange(plain, 'direct', { durable: true, autoDelete: false, internal: false });
  await ch.assertQueue(plain, { durable: true, exclusive: false, autoDelete: false });
  await ch.assertQueue(prio, { durable: true, exclusive: false, autoDelete: false, arguments: { 'x-max-priority': 10 } });
  await assert.rejects(ch.assertQueue(plain, { durable: false }), /PRECONDITION_FAILED/);
});

test('amqp: a publish to a missing exchange fails alone (E_BROKER_NOT_FOUND); the publish channel is replaced', async (t) => {
  if (!(await rabbitmq(t))) return;
  const { broker, queue } = await newBroker(t);
  const errors: Error[] = [];
  broker.on('error', (e) => errors.push(e));
  const q = await queue();
  await assert.rejects(broker.publish(textMessage('lost'), { queue: q, exchange: uniqueName(PREFIX, 'no-such-exchange'), routingKey: q }), (err: unknown) => {
    assert.ok(err instanceof BrokerError);
    assert.equal(err.code, 'E_BROKER_NOT_FOUND');
    assert.match(err.message, /NOT_FOUND - no exchange/);
    return true;
  });
  await Promise.all([1, 2, 3].map((i) => broker.publish(textMessage(`ok${i}`), { queue: q })));
  await eventually(() => broker.stats(q), (s) => s.messages === 3);
  assert.equal(broker.status, 'ready');
  assert.ok(errors.some((e) => e instanceof BrokerError && e.code === 'E_BROKER_NOT_FOUND'));
});

test('amqp: 5000 concurrent publishes are pipelined (publisher confirms with a window) and all arrive', async (t) => {
  if (!(await rabbitmq(t))) return;
  const { broker, queue } = await newBroker(t);
  const q = await queue();
  const n = 5000;
  const messages = Array.from({ length: n }, (_, i) => buildTaskMessage('test.echo', { args: [i] }));
  const started = performance.now();
  await Promise.all(messages.map((m) => broker.publish(m, { queue: q })));
  const ms = performance.now() - started;
  const rate = Math.round(n / (ms / 1000));
  t.diagnostic(`published ${n} confirmed messages in ${ms.toFixed(0)} ms = ${rate} msg/s`);
  process.stderr.write(`\n    amqp publish rate: ${n} confirmed messages in ${ms.toFixed(0)} ms = ${rate} msg/s\n`);
  const seen = new Set<string>();
  let done!: () => void;
  const all = new Promise<void>((r) => (done = r));
  const consumer = await broker.consume([q], { prefetch: 1000 }, (d) => {
    seen.add(String(d.properties.headers.id));
    d.ack();
    if (seen.size === n) done();
  });
  t.after(() => consumer.cancel());
  await Promise.race([all, sleep(30_000).then(() => assert.fail(`only ${seen.size} of ${n} arrived`))]);
  assert.deepEqual(seen, new Set(messages.map((m) => String(m.properties.headers.id))));
  await eventually(() => broker.stats(q), (s) => s.messages === 0);
});

test('amqp: server closes our connection (broker restart) → reconnect, publishes wait and succeed, consumer resumes', async (t) => {
  if (!(await rabbitmq(t)) || !(await rabbitmqctl(t))) return;
  const { broker, queue } = await newBroker(t, RABBITMQ_URL, { publishTimeoutMs: 20_000 });
  const statuses: ConnectionStatus[] = [];
  const errors: Error[] = [];
  broker.on('status', (s) => statuses.push(s));
  broker.on('error', (e) => errors.push(e));
  const q = await queue();
  const inbox = new Inbox();
  const consumer = await broker.consume([q], { prefetch: 50 }, inbox.handler);
  t.after(() => consumer.cancel());
  await broker.publish(textMessage('before'), { queue: q });
  const held = await inbox.next();
  assert.equal(held.body.toString(), 'before'); // held unacked across the outage
  // Publish from inside the outage: the moment the adapter notices it.
  const during: Promise<void>[] = [];
  broker.on('status', (s) => {
    if (s === 'reconnecting' && during.length === 0) for (let i = 0; i < 20; i++) during.push(broker.publish(textMessage(`during-${i}`), { queue: q }));
  });
  assert.equal(await closeOurAmqpConnection(broker.connectionName), 1);
  await waitForStatus(broker, 'ready');
  assert.ok(statuses.includes('reconnecting'), `statuses: ${statuses.join(' → ')}`);
  assert.equal(during.length, 20);
  await Promise.all(during);
  held.ack(); // its channel died: a no-op, the broker redelivers it
  const bodies = new Map<string, boolean>();
  const deadline = Date.now() + 10_000;
  while (bodies.size < 21 && Date.now() < deadline) {
    const d = await inbox.next(Math.max(1, deadline - Date.now()));
    if (!bodies.has(d.body.toString()) || d.redelivered) bodies.set(d.body.toString(), d.redelivered);
    d.ack();
  }
  assert.equal(bodies.get('before'), true, 'the unacked message comes back redelivered');
  for (let i = 0; i < 20; i++) assert.ok(bodies.has(`during-${i}`), `during-${i} arrived`);
  assert.ok(errors.some((e) => e instanceof BrokerError && e.code === 'E_BROKER_UNAVAILABLE'), 'the loss was reported on the error event');
  await broker.publish(textMessage('after'), { queue: q });
  assert.equal((await inbox.next()).body.toString(), 'after');
});

test('amqp: network outage → bounded publish wait (E_BROKER_UNAVAILABLE); topology re-declared and consumer resumed after', async (t) => {
  if (!(await rabbitmq(t))) return;
  const target = Number(new URL(RABBITMQ_URL).port || 5672);
  const proxy = await TcpProxy.start(target);
  t.after(() => proxy.close());
  const { broker, queue } = await newBroker(t, urlPort(RABBITMQ_URL, proxy.port), { publishTimeoutMs: 1500, backoff: { baseMs: 50, capMs: 200 } });
  broker.on('error', () => undefined);
  const q = await queue({ maxPriority: 3 });
  const inbox = new Inbox();
  const consumer = await broker.consume([q], { prefetch: 5 }, inbox.handler);
  t.after(() => consumer.cancel());
  await broker.publish(textMessage('one'), { queue: q });
  (await inbox.next()).ack();

  proxy.pause();
  await waitForStatus(broker, 'reconnecting');
  const started = Date.now();
  await assert.rejects(broker.publish(textMessage('gives up'), { queue: q }), (err: unknown) => {
    assert.ok(err instanceof BrokerError);
    assert.equal(err.code, 'E_BROKER_UNAVAILABLE');
    return true;
  });
  const waited = Date.now() - started;
  assert.ok(waited >= 1400 && waited < 5000, `waited ${waited} ms`);
  await assert.rejects(broker.stats(q), (err: unknown) => err instanceof BrokerError && err.code === 'E_BROKER_UNAVAILABLE');

  // Behind the adapter's back, the queue disappears (as after a broker reset): it must re-declare it.
  const direct = await amqpConnect(RABBITMQ_URL);
  direct.on('error', () => undefined);
  const ch = await direct.createChannel();
  await ch.deleteQueue(q);
  await direct.close();

  const pending = broker.publish(textMessage('two', { priority: 2 }), { queue: q });
  await sleep(100);
  proxy.resume();
  await pending;
  await waitForStatus(broker, 'ready');
  const d = await inbox.next(5000);
  assert.equal(d.body.toString(), 'two');
  d.ack();
  assert.deepEqual(await broker.stats(q), { name: q, messages: 0, consumers: 1 });
});

test('amqp: close() is clean while a consumer holds unacked messages; they return to the queue', async (t) => {
  if (!(await rabbitmq(t))) return;
  const { broker: other, queue } = await newBroker(t);
  const q = await queue();
  const broker = new AmqpBroker(RABBITMQ_URL);
  t.after(() => broker.close());
  await broker.ready();
  const inbox = new Inbox();
  await broker.consume([q], { prefetch: 2 }, inbox.handler);
  await Promise.all(['a', 'b', 'c'].map((x) => other.publish(textMessage(x), { queue: q })));
  await inbox.take(2);
  await Promise.all([broker.close(), broker.close()]);
  assert.equal(broker.status, 'closed');
  await eventually(() => other.stats(q), (s) => s.messages === 3 && s.consumers === 0);
});
