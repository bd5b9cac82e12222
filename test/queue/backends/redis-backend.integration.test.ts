/**
 * Tier 2: the Redis result backend against the real Redis on this machine. The same conformance suite as the
 * memory backend, plus what only a real server shows: refused credentials, Celery's exact key layout, losing and
 * regaining the subscriber connection, batched SUBSCRIBEs. Every test is gated by `redis(t)`.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { RedisBackend } from '../../../lab/queue/backends/redis-backend.js';
import { Redis as LabRedis } from '../../../lab/vendor/ioredis.js';
import { pythonJson } from '../../../lab/queue/json-codec.js';
import { createBackend } from '../../../lab/queue/transports.js';
import { BackendError } from '../../../lab/queue/errors.js';
import type { ConnectionStatus } from '../../../lab/queue/connection.js';
import { REDIS_URL, needs, redis, tcpOpen } from '../../support/prereq.js';
import { closedPort } from '../../support/tcp-proxy.js';
import { eventually, sleep, waitForStatus, withPassword } from '../transport-helpers.js';
import { backendConformance, meta } from './backend-conformance.js';
import type { Used } from './backend-conformance.js';

const execFileP = promisify(execFile);

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

// ------------------------------------------------------------------------------------------------ conformance

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
  // An in-process spy on ioredis — the copy lab's backend runs (lab/vendor's bundle, not the test's own import):
  // count SUBSCRIBE/UNSUBSCRIBE commands and the connections they use.
  const proto = LabRedis.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
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

test('redis: no per-task state outlives its result — read, timed out, aborted, or published before anyone waited', async (t) => {
  if (!(await redis(t))) return;
  const backend = new RedisBackend(REDIS_URL);
  const ids = Array.from({ length: 1000 }, () => randomUUID());
  const late = randomUUID();
  t.after(async () => {
    await redisCleanup({ taskIds: [...ids, late], groupIds: [] });
    await backend.close();
  });
  await backend.ready();
  // as an app sends a group: every id watched first, results published while nobody waits yet (kept as early)
  await backend.watch(ids);
  await Promise.all(ids.map((id) => backend.store(meta(id, 'SUCCESS', id))));
  await eventually(async () => backend.pendingState().early, (n) => n === ids.length);
  assert.equal(backend.pendingState().early, ids.length, 'published before anyone waited: kept for wait()');
  for (const id of ids) {
    assert.equal((await backend.wait(id, 5000, undefined, { subscribedFirst: true })).result, id);
    backend.unwatch([id]);
  }
  // a wait that times out and one that is aborted
  await assert.rejects(backend.wait(late, 30), (e: unknown) => (e as { code?: string }).code === 'E_TASK_TIMEOUT');
  const stop = new AbortController();
  const aborted = backend.wait(late, null, stop.signal);
  stop.abort(new Error('stop'));
  await assert.rejects(aborted, /stop/);
  const empty = { waiters: 0, watched: 0, subscribed: 0, active: 0, early: 0, unsubscribing: 0 };
  await eventually(async () => backend.pendingState(), (s) => JSON.stringify(s) === JSON.stringify(empty));
  assert.deepEqual(backend.pendingState(), empty);
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
