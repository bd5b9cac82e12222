/**
 * Bad input to the runtime on the real RabbitMQ + Redis, as a user meets it through the CLI: malformed and huge
 * messages, refused credentials, a Redis that goes away, wrong URLs, shutdown signals, `lab purge`, `lab call`.
 * Every failure must read as ONE clear line (the worker's log, or `lab: …` and an exit code) with passwords masked,
 * and a worker must keep serving after whatever it was sent.
 */
import test from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { App, BrokerError, TaskFailedError, TaskTimeoutError } from '../../lab/queue/index.js';
import { buildTaskMessage, newTaskId } from '../../lab/queue/protocol.js';
import type { Message } from '../../lab/queue/protocol.js';
import { RABBITMQ_URL, REDIS_URL, rabbitmq, redis } from '../support/prereq.js';
import { alive, childrenOf, lab } from '../support/cli.js';
import { startLabWorker } from '../support/peers.js';
import type { Peer } from '../support/peers.js';
import { TcpProxy, closedPort } from '../support/tcp-proxy.js';
import { eventually } from './transport-helpers.js';

const RUN = randomBytes(4).toString('hex');
const TASKS = fileURLToPath(new URL('../fixtures/interop/tasks.js', import.meta.url));
const EXPIRES = 120;
const MB = 1024 * 1024;

const queues = new Set<string>();
function queueName(what: string): string {
  const q = `lab-bad-${what}-${RUN}`;
  queues.add(q);
  return q;
}

function env(queue: string): NodeJS.ProcessEnv {
  return { LAB_INTEROP_QUEUE: queue, LAB_INTEROP_RESULT_EXPIRES: String(EXPIRES), LAB_BROKER_URL: '', LAB_BACKEND_URL: '' };
}

const apps: App[] = [];
function client(queue: string, backend: string | null = REDIS_URL): App {
  const app = new App(`bad-input-${queue}`, { broker: RABBITMQ_URL, backend, config: { task_default_queue: queue, result_expires: EXPIRES } });
  apps.push(app);
  return app;
}

const peers: Peer[] = [];
async function worker(queue: string, options: { backend?: string; extra?: string[]; concurrency?: number } = {}): Promise<Peer> {
  const p = await startLabWorker({ module: TASKS, queue, broker: RABBITMQ_URL, backend: options.backend ?? REDIS_URL, env: env(queue), extra: options.extra, concurrency: options.concurrency });
  peers.push(p);
  return p;
}

async function servers(t: TestContext): Promise<boolean> {
  return (await rabbitmq(t)) && (await redis(t));
}

/** Lines the worker wrote to stderr after `mark`. */
function linesSince(p: Peer, mark: number): string[] {
  return p
    .stderr()
    .slice(mark)
    .split('\n')
    .filter((l) => l.length > 0);
}

const settle = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The lines `lab` printed that are not the worker's own log lines. */
function errorLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l && !/^\[\d{4}-\d\d-\d\d /.test(l));
}

test.after(async () => {
  await Promise.all(peers.map((p) => p.stop()));
  const admin = new App('bad-input-cleanup', { broker: RABBITMQ_URL, backend: null });
  const broker = await admin.getBroker().catch(() => null);
  for (const q of queues) {
    if (!broker) break;
    await admin.ensureQueue(broker, q).catch(() => undefined);
    await broker.deleteQueue(q).catch(() => undefined);
  }
  await admin.close();
  await Promise.all(apps.map((a) => a.close()));
});

test.describe('malformed and huge messages', () => {
  const queue = queueName('msgs');
  let w: Peer | null = null;
  let app: App;
  async function ready(t: TestContext): Promise<boolean> {
    if (!(await servers(t))) return false;
    if (!w) {
      app = client(queue);
      w = await worker(queue);
    }
    return true;
  }

  async function publishRaw(message: Message): Promise<void> {
    await app.publish(message, app.route('test.echo'));
  }

  test('a message without an id or a task header, or in protocol 1: one log line each, dropped; the worker keeps serving', async (t) => {
    if (!(await ready(t))) return;
    const backend = await app.getBackend();
    const cases: { name: string; message: Message; id: string | null; re: RegExp }[] = [];
    const noHeaders = buildTaskMessage('test.echo', { args: ['x'] });
    noHeaders.properties.headers = {};
    cases.push({ name: 'no headers', message: noHeaders, id: null, re: /message has no task id header/ });
    const noTask = buildTaskMessage('test.echo', { args: ['x'] });
    const noTaskId = String(noTask.properties.headers.id);
    delete noTask.properties.headers.task;
    cases.push({ name: 'no task header', message: noTask, id: noTaskId, re: /message has no task name header/ });
    const v1Id = newTaskId();
    const v1: Message = { body: Buffer.from(JSON.stringify({ task: 'test.echo', id: v1Id, args: ['x'], kwargs: {}, retries: 0, eta: null })), properties: { contentType: 'application/json', contentEncoding: 'utf-8', deliveryMode: 2, headers: {} } };
    cases.push({ name: 'protocol 1', message: v1, id: v1Id, re: /Celery protocol 1 message/ });
    const badEta = buildTaskMessage('test.echo', { args: ['x'] });
    badEta.properties.headers.eta = 'tomorrow at noon';
    cases.push({ name: 'bad eta', message: badEta, id: String(badEta.properties.headers.id), re: /header eta is not an ISO-8601 time/ });
    for (const c of cases) {
      const mark = w!.stderr().length;
      if (c.id) await backend.watch([c.id]);
      await publishRaw(c.message);
      await w!.waitFor(/Received invalid task message: .*The message has been acknowledged and discarded\.\n/, 10_000, mark);
      if (c.id) {
        await assert.rejects(app.asyncResult(c.id).get({ timeout: 10 }), (err: unknown) => {
          assert.ok(err instanceof TaskFailedError, c.name);
          assert.deepEqual([err.excType, err.excModule], ['InvalidTaskError', 'celery.exceptions'], c.name);
          assert.match(err.excMessage, c.re, c.name);
          return true;
        });
        await app.asyncResult(c.id).forget();
      }
      await settle(100);
      const lines = linesSince(w!, mark);
      assert.equal(lines.length, 1, `${c.name}: one line, got:\n${lines.join('\n')}`);
      assert.match(lines[0], /^\[[^\]]+: ERROR\/MainProcess\] Received invalid task message: /);
      assert.match(lines[0], c.re, c.name);
    }
    const r = await app.sendTask('test.echo', ['still serving']);
    assert.equal(await r.get({ timeout: 10 }), 'still serving');
    assert.equal((await (await app.getBroker()).stats(queue)).messages, 0, 'every bad message was acked, none redelivered');
    await r.forget();
  });

  test('a 20 MB task runs and its 20 MB result is stored; the worker’s log lines stay short', async (t) => {
    if (!(await ready(t))) return;
    const big = 'x'.repeat(20 * MB);
    const mark = w!.stderr().length;
    const r = await app.sendTask('test.echo', [big]);
    const got = (await r.get({ timeout: 60 })) as string;
    assert.equal(got.length, big.length);
    assert.ok(got === big);
    await settle(100);
    const lines = linesSince(w!, mark);
    assert.equal(lines.length, 2, lines.map((l) => l.slice(0, 200)).join('\n'));
    assert.match(lines[0], /Received task: test\.echo\[/);
    assert.match(lines[1], /Task test\.echo\[[^\]]+\] succeeded in [\d.]+s: 'xxx/);
    for (const l of lines) assert.ok(l.length < 2000, `a log line of ${l.length} characters`);
    await r.forget();
    assert.equal(await (await app.sendTask('test.echo', ['after'])).get({ timeout: 10 }), 'after');
  });

  test('a 20 MB body that is not JSON: FAILURE (DecodeError) stored under its id, one line, the worker keeps serving', async (t) => {
    if (!(await ready(t))) return;
    const m = buildTaskMessage('test.echo', { args: [] });
    m.body = Buffer.alloc(20 * MB, 0x5b); // "[[[[…": never valid JSON
    const id = String(m.properties.headers.id);
    await (await app.getBackend()).watch([id]);
    const mark = w!.stderr().length;
    await publishRaw(m);
    await assert.rejects(app.asyncResult(id).get({ timeout: 60 }), (err: unknown) => err instanceof TaskFailedError && err.excType === 'DecodeError' && /body is not valid JSON/.test(err.excMessage));
    await settle(100);
    const lines = linesSince(w!, mark).filter((l) => !/Received task:/.test(l));
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0], /ERROR\/MainProcess\] Task test\.echo\[[^\]]+\] raised unexpected: DecodeError\('body is not valid JSON/);
    assert.ok(lines[0].length < 2000);
    await app.asyncResult(id).forget();
    assert.equal(await (await app.sendTask('test.echo', ['after'])).get({ timeout: 10 }), 'after');
  });

  test('a malformed callbacks or chain: FAILURE (DecodeError naming the field), one log line each, not silently dropped', async (t) => {
    if (!(await ready(t))) return;
    for (const [embed, field] of [[{ callbacks: 'add', errbacks: null, chain: null, chord: null }, 'callbacks'], [{ callbacks: null, errbacks: null, chain: [{ args: [] }], chord: null }, 'chain']] as const) {
      const m = buildTaskMessage('test.echo', { args: [] });
      m.body = Buffer.from(JSON.stringify([['x'], {}, embed]));
      const id = String(m.properties.headers.id);
      await (await app.getBackend()).watch([id]);
      const mark = w!.stderr().length;
      await publishRaw(m);
      await assert.rejects(app.asyncResult(id).get({ timeout: 30 }), (err: unknown) => err instanceof TaskFailedError && err.excType === 'DecodeError' && err.excMessage.includes(field));
      await settle(100);
      const lines = linesSince(w!, mark).filter((l) => !/Received task:/.test(l));
      assert.equal(lines.length, 1, lines.join('\n'));
      assert.match(lines[0], new RegExp(`Task test\\.echo\\[[^\\]]+\\] raised unexpected: DecodeError\\('body embed ${field} is not`));
      await app.asyncResult(id).forget();
    }
  });

  test('a message over RabbitMQ’s max_message_size (128 MiB) is refused at publish: one BrokerError, nothing sent', async (t) => {
    if (!(await ready(t))) return;
    const before = (await (await app.getBroker()).stats(queue)).messages;
    const mark = w!.stderr().length;
    // sendTask resolves only once the broker took the message: here it rejects with the broker's verdict.
    const refused = (err: unknown): boolean => {
      assert.ok(err instanceof BrokerError);
      assert.equal(err.code, 'E_BROKER_PRECONDITION');
      assert.match(err.message, /^amqp:\/\/guest:\*\*\*\*@127\.0\.0\.1:5672\/\/: publish to .*PRECONDITION_FAILED - message size \d+ is larger than configured max size \d+$/);
      assert.doesNotMatch(err.message, /\n/);
      return true;
    };
    await assert.rejects(app.sendTask('test.echo', ['y'.repeat(129 * MB)]), refused);
    assert.equal((await (await app.getBroker()).stats(queue)).messages, before);
    assert.equal(await (await app.sendTask('test.echo', ['publishing still works'])).get({ timeout: 10 }), 'publishing still works');
    assert.doesNotMatch(w!.stderr().slice(mark), /invalid|ERROR/);
  });
});

test.describe('connections refused, lost, or named wrong', () => {
  test('a broker that refuses the credentials: lab worker and lab call exit 2 (a configuration mistake) with one line, password masked', async (t) => {
    if (!(await servers(t))) return;
    const queue = queueName('auth');
    const broker = 'amqp://guest:wrong-secret@127.0.0.1:5672//';
    for (const args of [
      ['worker', '-A', TASKS, '-Q', queue, '-c', '1', '--broker', broker, '--backend', REDIS_URL],
      ['call', 'test.echo', '["x"]', '-Q', queue, '--broker', broker, '--backend', REDIS_URL, '--wait'],
    ]) {
      const t0 = Date.now();
      const r = await lab(args, { env: env(queue), timeoutMs: 30_000 });
      assert.equal(r.code, 2, `${args[0]}: ${r.stderr}`);
      const errors = errorLines(r.stderr);
      assert.equal(errors.length, 1, errors.join('\n'));
      assert.match(errors[0], /^lab: amqp:\/\/guest:\*\*\*\*@127\.0\.0\.1:5672\/\/: ACCESS_REFUSED - Login was refused/);
      assert.doesNotMatch(r.stdout + r.stderr, /wrong-secret/);
      assert.ok(Date.now() - t0 < 10_000, `${args[0]} took ${Date.now() - t0} ms to give up`);
    }
  });

  test('a Redis that is down: lab call --wait and lab worker exit 1 with one line; nothing is published', async (t) => {
    if (!(await servers(t))) return;
    const queue = queueName('redis-down');
    const backend = `redis://:hush-secret@127.0.0.1:${await closedPort()}/0`;
    for (const args of [
      ['call', 'test.echo', '["x"]', '-Q', queue, '--broker', RABBITMQ_URL, '--backend', backend, '--wait'],
      ['worker', '-A', TASKS, '-Q', queue, '-c', '1', '--broker', RABBITMQ_URL, '--backend', backend],
    ]) {
      const t0 = Date.now();
      const r = await lab(args, { env: env(queue), timeoutMs: 30_000 });
      assert.equal(r.code, 1, `${args[0]}: ${r.stderr}`);
      const errors = errorLines(r.stderr);
      assert.equal(errors.length, 1, errors.join('\n'));
      assert.match(errors[0], /^lab: redis:\/\/:\*\*\*\*@127\.0\.0\.1:\d+\/0: connect ECONNREFUSED/);
      assert.doesNotMatch(r.stdout + r.stderr, /hush-secret/);
      assert.ok(Date.now() - t0 < 10_000, `${args[0]} took ${Date.now() - t0} ms to give up`);
    }
    const app = client(queue);
    const broker = await app.getBroker();
    await app.ensureQueue(broker, queue);
    assert.equal((await broker.stats(queue)).messages, 0, 'lab call subscribes before it publishes: no orphan task');
  });

  test('Redis lost while a worker serves: its results wait (one warning, no false errors) and are stored once Redis is back', async (t) => {
    if (!(await servers(t))) return;
    const queue = queueName('redis-lost');
    const proxy = await TcpProxy.start(6379);
    t.after(() => proxy.close());
    const w = await worker(queue, { backend: `redis://127.0.0.1:${proxy.port}/0?socket_timeout=1` });
    const app = client(queue); // the client reads results straight from Redis
    assert.equal(await (await app.sendTask('test.echo', ['before'])).get({ timeout: 10 }), 'before');
    proxy.pause();
    const mark = w.stderr().length;
    const waiting = await Promise.all([1, 2, 3].map((i) => app.sendTask('test.echo', [`waiting ${i}`])));
    // Not stored while Redis is away (the worker's reads would give up after 1 s; its result writes do not)…
    await assert.rejects(waiting[0].get({ timeout: 2 }), TaskTimeoutError);
    // …and said once, 10 s into the wait: waited for, not slept for (a fixed sleep left a 2 s margin on a loaded CI machine).
    const warned = (l: string): boolean => /the result backend has not answered for 10 s: results wait to be stored/.test(l);
    await eventually(async () => linesSince(w, mark).some(warned), (seen) => seen, 30_000);
    await settle(500); // time for a second warning, were there one
    for (const r of waiting) assert.equal(await r.refresh(), 'PENDING', `${r.id} was stored while Redis was away`);
    const lines = linesSince(w, mark);
    assert.deepEqual(lines.filter((l) => /could not store|ERROR/.test(l)), [], `no error for results that are only delayed:\n${lines.join('\n')}`);
    assert.equal(lines.filter(warned).length, 1, lines.join('\n'));
    // Every line is one log record (a connection warning or a task line); no stack traces.
    for (const l of lines) assert.match(l, /^\[\d{4}-\d\d-\d\d [\d:,]+: (INFO|WARNING|ERROR)\/MainProcess\] /, l);
    assert.ok(lines.filter((l) => /WARNING/.test(l)).length <= 4, `connection warnings are not repeated per attempt:\n${lines.join('\n')}`);
    proxy.resume();
    // …and stored once it is back (the worker reconnects with capped backoff): nothing was lost.
    assert.deepEqual(await Promise.all(waiting.map((r) => r.get({ timeout: 30 }))), ['waiting 1', 'waiting 2', 'waiting 3']);
    assert.equal(await (await app.sendTask('test.echo', ['after'])).get({ timeout: 10 }), 'after');
    await eventually(async () => linesSince(w, mark).filter((l) => /the result backend is back: 3 delayed results stored/.test(l)).length, (n) => n === 1, 10_000);
    assert.equal(w.child.exitCode, null, 'the worker is still running');
  });

  test('wrong URLs (unknown scheme, unparseable): one line, exit 2, password masked, for lab worker and lab call', async (t) => {
    if (!(await servers(t))) return;
    const queue = queueName('urls');
    const cases: [string, string, RegExp][] = [
      ['--broker', 'amqqp://u:top-secret@127.0.0.1:5672//', /^lab: unsupported broker URL scheme "amqqp:" in amqqp:\/\/u:\*\*\*\*@127\.0\.0\.1:5672\/\/ /],
      ['--broker', 'amqp://u:top-secret@127.0.0.1:99999//', /^lab: not a valid URL: amqp:\/\/u:\*\*\*\*@127\.0\.0\.1:99999\/\/ /],
      ['--broker', 'amqp://u:top-secret@[::1//', /^lab: not a valid URL: amqp:\/\/u:\*\*\*\*@\[::1\/\/ /],
      ['--broker', 'rabbitmq at host1', /^lab: not a URL: rabbitmq at host1 /],
      ['--backend', 'rediss+sentinel://:top-secret@h:1/0', /^lab: unsupported result backend URL scheme "rediss\+sentinel:" in rediss\+sentinel:\/\/:\*\*\*\*@h:1\/0 /],
      ['--backend', 'redis://:top-secret@127.0.0.1:port/0', /^lab: not a Redis URL: redis:\/\/:\*\*\*\*@127\.0\.0\.1:port\/0 /],
      ['--backend', 'redis://:top-secret@127.0.0.1:6379/zero', /^lab: bad Redis database number "zero" in redis:\/\/:\*\*\*\*@127\.0\.0\.1:6379\/zero$/],
    ];
    for (const [flag, url, re] of cases) {
      const urls = { '--broker': RABBITMQ_URL, '--backend': REDIS_URL, [flag]: url };
      for (const cmd of [
        ['worker', '-A', TASKS, '-Q', queue, '-c', '1'],
        ['call', 'test.echo', '["x"]', '-Q', queue, '--wait'],
      ]) {
        const r = await lab([...cmd, '--broker', urls['--broker'], '--backend', urls['--backend']], { env: env(queue), timeoutMs: 30_000 });
        const errors = errorLines(r.stderr);
        assert.equal(r.code, 2, `${cmd[0]} ${flag} ${url}: exit ${r.code}\n${r.stderr}`);
        assert.equal(errors.length, 1, errors.join('\n'));
        assert.match(errors[0], re);
        assert.doesNotMatch(r.stdout + r.stderr, /top-secret/);
      }
    }
  });
});

test.describe('shutdown, lab purge, lab call', () => {
  test('SIGTERM: warm shutdown — the running task finishes, its result is stored, the worker exits 0', async (t) => {
    if (!(await servers(t))) return;
    const queue = queueName('warm');
    const w = await worker(queue, { concurrency: 1 });
    const app = client(queue);
    const r = await app.sendTask('interop.sleep', [1500]);
    await w.waitFor(/Received task: interop\.sleep\[/, 10_000);
    const kids = childrenOf(w.pid);
    assert.ok(kids.length >= 1);
    process.kill(w.pid, 'SIGTERM');
    const exit = await w.exited;
    assert.deepEqual(exit, { code: 0, signal: null }, w.stderr());
    assert.match(w.stderr(), /SIGTERM: warm shutdown \(finishing 1 running task\(s\)/);
    assert.match(w.stderr(), /Task interop\.sleep\[[^\]]+\] succeeded in 1\.\d+s: 1500/);
    assert.equal(await r.get({ timeout: 5 }), 1500, 'the result was stored before the worker exited');
    for (const k of kids) assert.equal(alive(k), false, `pool child ${k} outlived the worker`);
    await r.forget();
  });

  test('a second SIGTERM: cold shutdown — the worker exits at once; with --acks-late the task goes back to the queue', async (t) => {
    if (!(await servers(t))) return;
    const queue = queueName('cold');
    const w = await worker(queue, { concurrency: 1, extra: ['--acks-late'] });
    const app = client(queue);
    const r = await app.sendTask('interop.sleep', [20_000]);
    await w.waitFor(/Received task: interop\.sleep\[/, 10_000);
    const kids = childrenOf(w.pid);
    process.kill(w.pid, 'SIGTERM');
    await w.waitFor(/warm shutdown/, 5_000);
    const t0 = Date.now();
    process.kill(w.pid, 'SIGTERM');
    const exit = await w.exited;
    assert.ok(Date.now() - t0 < 5_000, `cold shutdown took ${Date.now() - t0} ms`);
    assert.equal(exit.code, 0, w.stderr());
    assert.match(w.stderr(), /SIGTERM: cold shutdown/);
    assert.doesNotMatch(w.stderr(), /succeeded in/);
    for (const k of kids) assert.equal(alive(k), false, `pool child ${k} outlived the worker`);
    assert.equal(await r.refresh(), 'PENDING');
    const broker = await app.getBroker();
    let waiting = 0;
    for (let i = 0; i < 50 && waiting === 0; i++) {
      waiting = (await broker.stats(queue)).messages;
      if (!waiting) await settle(100);
    }
    assert.equal(waiting, 1, 'the unacked task is back in the queue for another worker');
  });

  test('lab purge -f empties the queues and says how many; without -f and without a terminal it refuses (exit 2)', async (t) => {
    if (!(await servers(t))) return;
    const queue = queueName('purge');
    const app = client(queue, null);
    for (let i = 0; i < 3; i++) await app.sendTask('test.echo', [i]);
    const refused = await lab(['purge', '-Q', queue, '--broker', RABBITMQ_URL], { env: env(queue) });
    assert.equal(refused.code, 2);
    assert.match(errorLines(refused.stderr).pop() ?? '', /^lab: purge asks for confirmation but stdin is not a terminal: pass -f/);
    const broker = await app.getBroker();
    assert.equal((await broker.stats(queue)).messages, 3);
    const r = await lab(['purge', '-f', '-Q', queue, '--broker', RABBITMQ_URL], { env: env(queue) });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'Purged 3 messages from 1 known task queue.\n');
    assert.equal((await broker.stats(queue)).messages, 0);
    const json = await lab(['purge', '-f', '-Q', queue, '--broker', RABBITMQ_URL, '--json'], { env: env(queue) });
    assert.deepEqual(JSON.parse(json.stdout), { purged: 0, queues: [queue] });
  });

  test('lab call --wait prints the result; a task that raises exits 1 with the remote error on one line; --timeout exits 1', async (t) => {
    if (!(await servers(t))) return;
    const queue = queueName('call');
    await worker(queue);
    const urls = ['--broker', RABBITMQ_URL, '--backend', REDIS_URL, '-Q', queue];
    const ok = await lab(['call', 'test.echo', '["Python rocks!"]', '--wait', ...urls], { env: env(queue) });
    assert.deepEqual([ok.code, ok.stdout, ok.stderr], [0, '"Python rocks!"\n', '']);
    const kw = await lab(['call', 'interop.add', '[40]', '--kwargs', '{"y": 2}', '--wait', '--json', ...urls], { env: env(queue) });
    assert.equal(kw.code, 0, kw.stderr);
    const parsed = JSON.parse(kw.stdout) as { id: string; state: string; result: unknown };
    assert.deepEqual([parsed.state, parsed.result], ['SUCCESS', 42]);
    const boom = await lab(['call', 'interop.boom', '["TypeError", "Booo!"]', '--wait', ...urls], { env: env(queue) });
    assert.equal(boom.code, 1);
    assert.equal(boom.stderr, 'lab: TypeError: Booo!\n');
    const slow = await lab(['call', 'interop.sleep', '[3000]', '--wait', '--timeout', '0.5', ...urls], { env: env(queue) });
    assert.equal(slow.code, 1);
    assert.match(slow.stderr, /^lab: task ([0-9a-f-]{36}) did not finish within 500 ms \(it may still run: look it up later with lab result \1\)\n$/);
    const noWait = await lab(['call', 'test.echo', '["x"]', ...urls], { env: env(queue) });
    assert.equal(noWait.code, 0);
    assert.match(noWait.stdout, /^[0-9a-f-]{36}\n$/);
    const bad = await lab(['call', 'test.echo', '[oops', '--wait', ...urls], { env: env(queue) });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^lab: args: not valid JSON/);
    const redisClient = new Redis(REDIS_URL);
    await redisClient.del(`celery-task-meta-${parsed.id}`, `celery-task-meta-${noWait.stdout.trim()}`);
    await redisClient.quit();
  });
});
