/**
 * Tier 2: the AMQP broker and the Redis result backend against the real RabbitMQ and Redis on this machine.
 * The same conformance suites as the memory transports, plus what only a real server shows: refused credentials,
 * connection loss and recovery (server-side close of *our* connection, never a service restart), pipelined
 * publishing, and Celery's exact Redis layout. Every test is gated by `rabbitmq(t)` / `redis(t)`.
 */
import test from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { connect as amqpConnect } from 'amqplib';
import type { Channel } from 'amqplib';
import { AmqpBroker } from '../../lab/queue/brokers/amqp-broker.js';
import { RedisBackend } from '../../lab/queue/backends/redis-backend.js';
import { pythonJson } from '../../lab/queue/json-codec.js';
import { createBroker, createBackend } from '../../lab/queue/transports.js';
import { BackendError, BrokerError } from '../../lab/queue/errors.js';
import { buildTaskMessage } from '../../lab/queue/protocol.js';
import type { Broker } from '../../lab/queue/broker.js';
import type { ConnectionStatus } from '../../lab/queue/connection.js';
import { RABBITMQ_URL, REDIS_URL, needs, rabbitmq, redis, tcpOpen } from '../support/prereq.js';
import { Inbox, brokerConformance, eventually, sleep, textMessage, uniqueName } from './broker-conformance.js';
import type { Declared } from './broker-conformance.js';
import { backendConformance, meta } from './backend-conformance.js';
import type { Used } from './backend-conformance.js';
import { TcpProxy, closedPort } from '../support/tcp-proxy.js';

const execFileP = promisify(execFile);
const PREFIX = 'lab-test';

// ------------------------------------------------------------------------------------------------ helpers

function rawRedis(): Redis {
  const u = new URL(REDIS_URL);
  return new Redis({
    host: u.hostname,
    port: Number(u.port || 6379),
    db: Number(u.pathname.slice(1) || 0),
    password: u.password || undefined,
    lazyConnect: false,
    maxRetriesPerRequest: 2,
  });
}

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

async function redisCleanup(used: Used): Promise<void> {
  const keys = [
    ...used.taskIds.map((id) => `celery-task-meta-${id}`),
    ...used.groupIds.flatMap((g) => ['', '.s', '.t', '.j'].map((s) => `celery-taskset-meta-${g}${s}`)),
  ];
  if (keys.length === 0) return;
  const r = rawRedis();
  try {
    for (let i = 0; i < keys.length; i += 500) await r.del(...keys.slice(i, i + 500));
  } finally {
    r.disconnect();
  }
}

function withPassword(url: string, user: string, password: string): string {
  return url.replace(/^([a-z]+:\/\/)([^@/]*@)?/i, `$1${user}:${password}@`);
}

function urlPort(url: string, port: number): string {
  return url.replace(/@([^:/]+):\d+/, `@$1:${port}`).replace(/^(redis:\/\/)([^@/:]+):\d+/, `$1$2:${port}`);
}

function waitForStatus(c: { status: ConnectionStatus; on(e: 'status', l: (s: ConnectionStatus) => void): unknown; off(e: 'status', l: (s: ConnectionStatus) => void): unknown }, want: ConnectionStatus, timeoutMs = 10_000): Promise<void> {
  if (c.status === want) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      c.off('status', on);
      reject(new Error(`status ${want} not reached within ${timeoutMs} ms (now ${c.status})`));
    }, timeoutMs);
    const on = (s: ConnectionStatus): void => {
      if (s !== want) return;
      clearTimeout(timer);
      c.off('status', on);
      resolve();
    };
    c.on('status', on);
  });
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

backendConformance(
  'redis',
  async () => {
    const b = new RedisBackend(REDIS_URL);
    await b.ready();
    return b;
  },
  redisCleanup,
  {
    gate: redis,
    makePeer: async () => {
      const b = new RedisBackend(REDIS_URL);
      await b.ready();
      return b;
    },
  },
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

// ------------------------------------------------------------------------------------------------ Redis specifics

test('redis: unknown user / refused port → one-line BackendError naming the masked URL, fast', async (t) => {
  if (!(await redis(t))) return;
  const auth = new RedisBackend(withPassword(REDIS_URL, 'lab-no-such-user', 'nope'));
  t.after(() => auth.close());
  await assert.rejects(auth.ready(), (err: unknown) => {
    assert.ok(err instanceof BackendError, String(err));
    assert.equal(err.code, 'E_BACKEND_AUTH');
    assert.match(err.message, /^redis:\/\/lab-no-such-user:\*\*\*\*@127\.0\.0\.1:6379\/0: WRONGPASS /);
    assert.ok(!err.message.includes('nope@') && !err.message.includes('\n'));
    return true;
  });
  const port = await closedPort();
  const refused = new RedisBackend(`redis://:secret@127.0.0.1:${port}/0`);
  t.after(() => refused.close());
  const started = Date.now();
  await assert.rejects(refused.ready(), (err: unknown) => {
    assert.ok(err instanceof BackendError);
    assert.equal(err.code, 'E_BACKEND_UNAVAILABLE');
    assert.equal(err.message, `redis://:****@127.0.0.1:${port}/0: connect ECONNREFUSED 127.0.0.1:${port}`);
    return true;
  });
  assert.ok(Date.now() - started < 3000);
  // Operations on a backend that never connected reject with the same clear error (and do not hang).
  await assert.rejects(refused.get('x'), BackendError);
});

test('redis: password-protected server (a private redis-server): wrong or missing password → E_BACKEND_AUTH', async (t) => {
  const have = await needs(t, 'redis-server binary (private instance for auth tests)', async () => {
    try {
      await execFileP('redis-server', ['--version']);
      return null;
    } catch {
      return 'redis-server not found (apt-get install redis-server)';
    }
  });
  if (!have) return;
  const port = await closedPort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--requirepass', 'right-one', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  t.after(() => {
    child.kill('SIGTERM');
  });
  const deadline = Date.now() + 5000;
  while ((await tcpOpen('127.0.0.1', port, 200)) !== null) {
    if (Date.now() > deadline) assert.fail('private redis-server did not start');
    await sleep(50);
  }
  for (const [url, pattern] of [
    [`redis://:wrong-one@127.0.0.1:${port}/0`, /^redis:\/\/:\*\*\*\*@127\.0\.0\.1:\d+\/0: WRONGPASS /],
    [`redis://127.0.0.1:${port}/0`, /^redis:\/\/127\.0\.0\.1:\d+\/0: NOAUTH /],
  ] as const) {
    const b = new RedisBackend(url);
    t.after(() => b.close());
    await assert.rejects(b.ready(), (err: unknown) => {
      assert.ok(err instanceof BackendError, String(err));
      assert.equal(err.code, 'E_BACKEND_AUTH');
      assert.match(err.message, pattern);
      assert.ok(!err.message.includes('\n'));
      return true;
    });
  }
  const ok = new RedisBackend(`redis://:right-one@127.0.0.1:${port}/0`);
  t.after(() => ok.close());
  await ok.ready();
  const id = randomUUID();
  await ok.store(meta(id, 'SUCCESS', 'authed'));
  assert.equal((await ok.wait(id, 1000)).result, 'authed');
});

test('redis: Celery key layout — SETEX+PUBLISH meta, group tuple, chord .s/.j/.t, Python JSON members, NaN', async (t) => {
  if (!(await redis(t))) return;
  const used: Used = { taskIds: [], groupIds: [] };
  t.after(() => redisCleanup(used));
  const backend = (await createBackend(REDIS_URL)) as RedisBackend;
  t.after(() => backend.close());
  await backend.ready();
  const raw = rawRedis();
  const rawSub = rawRedis();
  t.after(() => {
    raw.disconnect();
    rawSub.disconnect();
  });
  const id = () => {
    const x = randomUUID();
    used.taskIds.push(x);
    return x;
  };
  const gid = () => {
    const x = randomUUID();
    used.groupIds.push(x);
    return x;
  };

  // Task meta: value, TTL, and the PUBLISH on the key's channel carrying the same text.
  const a = id();
  const heard: [string, string][] = [];
  rawSub.on('message', (c: string, m: string) => heard.push([c, m]));
  await rawSub.subscribe(`celery-task-meta-${a}`);
  const m = meta(a, 'SUCCESS', [1, 'two']);
  await backend.store(m, { expiresSeconds: 600 });
  const text = await raw.get(`celery-task-meta-${a}`);
  assert.deepEqual(JSON.parse(text ?? 'null'), m);
  const ttl = await raw.ttl(`celery-task-meta-${a}`);
  assert.ok(ttl > 590 && ttl <= 600, `ttl ${ttl}`);
  await eventually(async () => heard.length, (n) => n === 1);
  assert.deepEqual(heard[0], [`celery-task-meta-${a}`, text]);
  assert.ok((await raw.ttl(`celery-task-meta-${id()}`)) < 0);
  await backend.store(meta(used.taskIds[1], 'SUCCESS', 1));
  const defaultTtl = await raw.ttl(`celery-task-meta-${used.taskIds[1]}`);
  assert.ok(defaultTtl > 86_300 && defaultTtl <= 86_400, `default ttl ${defaultTtl}`);

  // A meta Python wrote (", " separators, NaN) reads back.
  const py = id();
  await raw.set(
    `celery-task-meta-${py}`,
    `{"status": "SUCCESS", "result": [NaN, Infinity, "NaN"], "traceback": null, "children": [], "date_done": "2024-05-01T10:00:00.123456", "task_id": "${py}"}`,
  );
  const pyMeta = await backend.get(py);
  assert.ok(Number.isNaN((pyMeta?.result as unknown[])[0]));
  assert.deepEqual((pyMeta?.result as unknown[]).slice(1), [Infinity, 'NaN']);
  // ... and a stored SUCCESS written by Python is not overwritten either.
  await backend.store(meta(py, 'FAILURE', { exc_type: 'X', exc_message: [], exc_module: null }));
  assert.equal((await backend.get(py))?.status, 'SUCCESS');

  // Group: {"result": ((gid, None), [((id, None), None), ...])}
  const g = gid();
  const [x, y] = [id(), id()];
  await backend.saveGroup(g, [x, y]);
  assert.deepEqual(JSON.parse((await raw.get(`celery-taskset-meta-${g}`)) ?? 'null'), {
    result: [
      [g, null],
      [
        [[x, null], null],
        [[y, null], null],
      ],
    ],
  });
  // A group Python saved with a parent and a nested group restores to its member ids.
  const g2 = gid();
  await raw.set(`celery-taskset-meta-${g2}`, `{"result": [["${g2}", ["p", null]], [[["${x}", null], null], [["${y}", ["p", null]], [[["z", null], null]]]]]}`);
  assert.deepEqual(await backend.restoreGroup(g2), [x, y]);

  // Chord: .s holds the bare size (SETEX + PUBLISH), .j members are Python's json([1, id, state, result]).
  const c = gid();
  const key = `celery-taskset-meta-${c}`;
  await backend.chordSetSize(c, 2, { expiresSeconds: 300 });
  assert.equal(await raw.get(`${key}.s`), '2');
  assert.ok((await raw.ttl(`${key}.s`)) <= 300);
  const [p0, p1, p2] = [id(), id(), id()];
  assert.equal(await backend.chordJoin(c, { index: 1, taskId: p1, state: 'SUCCESS', result: { k: 'é', n: [1.5, null, true] } }, { expiresSeconds: 300 }), null);
  // (RESP3 answers WITHSCORES as pairs, RESP2 flat)
  assert.deepEqual(((await raw.call('ZRANGE', `${key}.j`, '0', '-1', 'WITHSCORES')) as unknown[]).flat(), [`[1, "${p1}", "SUCCESS", {"k": "\\u00e9", "n": [1.5, null, true]}]`, '1']);
  const jttl = await raw.ttl(`${key}.j`);
  assert.ok(jttl > 0 && jttl <= 300, `.j ttl ${jttl}`);
  // .t (Celery's add_to_chord) raises the target: size 2 + 1.
  await raw.set(`${key}.t`, '1');
  assert.equal(await backend.chordJoin(c, { index: 0, taskId: p0, state: 'SUCCESS', result: 0 }), null);
  // A part a Python worker joined (with NaN) decodes.
  await raw.zadd(`${key}.j`, 2, `[1, "${p2}", "SUCCESS", NaN]`);
  const lastId = id();
  await raw.incr(`${key}.s`); // size 3 + t 1 = 4 parts in all
  const parts = await backend.chordJoin(c, { index: 3, taskId: lastId, state: 'FAILURE', result: { exc_type: 'ValueError', exc_message: ['bad'], exc_module: 'builtins' } });
  assert.ok(parts);
  assert.deepEqual(
    parts.map((p) => [p.index, p.taskId, p.state]),
    [
      [0, p0, 'SUCCESS'],
      [1, p1, 'SUCCESS'],
      [2, p2, 'SUCCESS'],
      [3, lastId, 'FAILURE'],
    ],
  );
  assert.ok(Number.isNaN(parts[2].result));
  assert.equal(await raw.exists(`${key}.j`, `${key}.s`, `${key}.t`), 0);
  // A part without group_index is scored +inf, as Celery does.
  const c2 = gid();
  await backend.chordSetSize(c2, 1);
  assert.deepEqual(await backend.chordJoin(c2, { index: Infinity, taskId: p0, state: 'SUCCESS', result: 'x' }), [{ index: Infinity, taskId: p0, state: 'SUCCESS', result: 'x' }]);
  assert.equal(pythonJson({ a: [1, 'ü'], b: 1e-7, c: 'x"y' }), '{"a": [1, "\\u00fc"], "b": 1e-07, "c": "x\\"y"}');
});

test('redis: CLIENT KILL of our subscriber connection → resubscribe; results stored meanwhile and after are delivered', async (t) => {
  if (!(await redis(t))) return;
  const used: Used = { taskIds: [], groupIds: [] };
  t.after(() => redisCleanup(used));
  const backend = new RedisBackend(REDIS_URL, { backoff: { baseMs: 50, capMs: 200 } });
  const writer = new RedisBackend(REDIS_URL);
  t.after(() => Promise.all([backend.close(), writer.close()]));
  await Promise.all([backend.ready(), writer.ready()]);
  const statuses: ConnectionStatus[] = [];
  backend.on('status', (s) => statuses.push(s));
  backend.on('error', () => undefined);
  const [a, b] = [randomUUID(), randomUUID()];
  used.taskIds.push(a, b);
  await backend.watch([a, b]);
  const waitA = backend.wait(a, 15_000);
  const waitB = backend.wait(b, 15_000);

  const raw = rawRedis();
  t.after(() => raw.disconnect());
  const list = (await raw.client('LIST')) as string;
  const subLine = list.split('\n').find((l) => l.includes(` name=${backend.connectionName}-sub `));
  assert.ok(subLine, `our subscriber connection (${backend.connectionName}-sub) is listed`);
  const clientId = /\bid=(\d+)/.exec(subLine)?.[1];
  assert.equal(await raw.call('CLIENT', 'KILL', 'ID', String(clientId)), 1);
  // Stored while our subscriber is (probably) still down: the catch-up read after resubscribing finds it.
  await writer.store(meta(a, 'SUCCESS', 'during'));
  assert.equal((await waitA).result, 'during');
  await waitForStatus(backend, 'ready');
  assert.ok(statuses.includes('reconnecting'), `statuses: ${statuses.join(' → ')}`);
  await sleep(100);
  await writer.store(meta(b, 'SUCCESS', 'after'));
  assert.equal((await waitB).result, 'after');
  backend.unwatch([a, b]);
});

test('redis: concurrent watch() calls go out as one SUBSCRIBE, unwatch as one UNSUBSCRIBE, on one shared connection', async (t) => {
  if (!(await redis(t))) return;
  const backend = new RedisBackend(REDIS_URL);
  t.after(() => backend.close());
  await backend.ready();
  // An in-process spy on ioredis: count SUBSCRIBE/UNSUBSCRIBE commands and the connections they use.
  const proto = Redis.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
  const calls: { cmd: string; channels: number; client: unknown }[] = [];
  const originals = { subscribe: proto.subscribe, unsubscribe: proto.unsubscribe };
  for (const cmd of ['subscribe', 'unsubscribe'] as const) {
    proto[cmd] = function (this: unknown, ...args: unknown[]) {
      calls.push({ cmd, channels: args.length, client: this });
      return originals[cmd].apply(this, args);
    };
  }
  t.after(() => {
    delete proto.subscribe;
    delete proto.unsubscribe;
    if (proto.subscribe !== originals.subscribe) Object.assign(proto, originals);
  });
  const ids = Array.from({ length: 100 }, () => randomUUID());
  await Promise.all(ids.map(async (id) => {
    await Promise.resolve(); // spread over microtasks, as an app sending a group does
    await backend.watch([id]);
  }));
  assert.deepEqual(
    calls.map((c) => [c.cmd, c.channels]),
    [['subscribe', 100]],
  );
  // wait() on an id already watched needs no new SUBSCRIBE
  const w = backend.wait(ids[0], 50).catch(() => undefined);
  await w;
  assert.equal(calls.length, 1);
  backend.unwatch(ids);
  await sleep(20);
  assert.deepEqual(
    calls.map((c) => [c.cmd, c.channels]),
    [
      ['subscribe', 100],
      ['unsubscribe', 100],
    ],
  );
  assert.equal(calls[0].client, calls[1].client);
});

test('redis: close() rejects pending waits with E_BACKEND_CLOSED and is idempotent', async (t) => {
  if (!(await redis(t))) return;
  const backend = new RedisBackend(REDIS_URL);
  await backend.ready();
  const id = randomUUID();
  const waiting = backend.wait(id, null).then(
    () => null,
    (e: unknown) => e,
  );
  await sleep(50);
  await Promise.all([backend.close(), backend.close()]);
  const err = await waiting;
  assert.ok(err instanceof BackendError && err.code === 'E_BACKEND_CLOSED', String(err));
  assert.equal(backend.status, 'closed');
  await assert.rejects(backend.get(id), BackendError);
  t.diagnostic('closed cleanly');
});
