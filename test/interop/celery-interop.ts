/**
 * Tier 4: Python Celery 5.2 (Debian's python3-celery) as a real peer of lab's runtime, both directions, with the
 * backend on the real Redis and the broker on RabbitMQ or on Redis (kombu's Redis transport): `celeryInterop` is run
 * once per broker (celery-amqp… and celery-redis-broker….integration.test.ts). Python clients send to `lab worker`;
 * lab clients send to `celery worker`; both kinds of worker serve one queue together. Each run uses its own queues
 * and deletes them; results expire after 120 s (and the tests forget what they can).
 */
import test from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { App, TaskFailedError, TaskRevokedError, chain, chord, group, workerDirect } from '../../lab/queue/index.js';
import type { QueueDeclaration } from '../../lab/queue/index.js';
import { workerDirectDeclaration } from '../../lab/queue/worker-direct.js';
import { Signature } from '../../lab/queue/canvas.js';
import { REDIS_URL, redis } from '../support/prereq.js';
import { pythonCelery, pythonClient, startLabWorker, startPythonWorker } from '../support/peers.js';
import type { Peer } from '../support/peers.js';


export interface InteropTarget {
  /** Names the suites: "RabbitMQ", "Redis broker". */
  label: string;
  brokerUrl: string;
  /** The broker's prerequisite check. */
  gate: (t: TestContext) => Promise<boolean>;
  /** What a first delivery's delivery_info.redelivered reads in Python: false on AMQP, None (null) on Redis. */
  redeliveredFlag: false | null;
}

export function celeryInterop({ label, brokerUrl: BROKER, gate, redeliveredFlag }: InteropTarget): void {
  const RUN = randomBytes(4).toString('hex');
  const EXPIRES = 120;
  const LAB_TASKS = fileURLToPath(new URL('../fixtures/interop/tasks.js', import.meta.url));
  const CELERY_TASK_KEY = /^celery-task-meta-/;

  function peerEnv(queue: string): NodeJS.ProcessEnv {
    return { LAB_INTEROP_BROKER: BROKER, LAB_INTEROP_BACKEND: REDIS_URL, LAB_INTEROP_QUEUE: queue, LAB_INTEROP_RESULT_EXPIRES: String(EXPIRES) };
  }

  async function prerequisites(t: TestContext): Promise<boolean> {
    return (await gate(t)) && (await redis(t)) && (await pythonCelery(t));
  }

  let redisClient: Redis | null = null;
  function rc(): Redis {
    redisClient ??= new Redis(REDIS_URL, { lazyConnect: false, maxRetriesPerRequest: 2 });
    return redisClient;
  }

  /** The chord bookkeeping keys (.j/.t/.s) are gone once the chord body was sent. */
  async function chordKeys(groupId: string): Promise<string[]> {
    return rc().keys(`celery-taskset-meta-${groupId}*`);
  }

  /** One queue, the workers serving it, a lab client app, and cleanup that leaves nothing behind. */
  class Lane {
    readonly queue: string;
    readonly app: App;
    #peers: Promise<Peer[]> | null = null;
    readonly started: Peer[] = [];

    constructor(
      readonly name: string,
      private readonly start: (queue: string) => Promise<Peer>[],
      /** Queues the lane's workers declare besides its own (worker-direct ones): deleted with it. */
      private readonly alsoDeclared: QueueDeclaration[] = [],
    ) {
      this.queue = `lab-interop-${name}-${RUN}`;
      this.app = new App(`interop-${name}`, {
        broker: BROKER,
        backend: REDIS_URL,
        config: { task_default_queue: this.queue, result_expires: EXPIRES },
      });
    }

    /** Start the workers once (after the prerequisites check); resolves false when the test was skipped. */
    async ready(t: TestContext): Promise<boolean> {
      if (!(await prerequisites(t))) return false;
      this.#peers ??= (async () => {
        // Declare the queue first, exactly as Celery does, so both kinds of worker and client agree on it.
        await this.app.ensureQueue(await this.app.getBroker(), this.queue);
        const peers = await Promise.all(this.start(this.queue));
        this.started.push(...peers);
        return peers;
      })();
      await this.#peers;
      return true;
    }

    peer(i = 0): Peer {
      return this.started[i];
    }

    sig(name: string, ...args: unknown[]): Signature {
      return new Signature(this.app, name, args);
    }

    async close(): Promise<void> {
      const stopped = await Promise.all(this.started.map((p) => p.stop()));
      if (this.#peers) {
        const broker = await this.app.getBroker().catch(() => null);
        await broker?.purge(this.queue).catch(() => undefined);
        await broker?.deleteQueue(this.queue).catch(() => undefined);
        // declared here too, so this connection knows the binding and removes it with the queue (on Redis a
        // binding is a member of kombu's set for the exchange, which no worker empties)
        for (const d of this.alsoDeclared) await broker?.declare(d).then(() => broker.deleteQueue(d.name)).catch(() => undefined);
      }
      await this.app.close();
      for (const [i, s] of stopped.entries()) {
        if (s.code !== 0) process.stderr.write(`${this.started[i].name} exited ${s.code ?? s.signal}:\n${this.started[i].output().slice(-3000)}\n`);
      }
    }
  }

  const labLane = new Lane('py2lab', (queue) => [startLabWorker({ module: LAB_TASKS, queue, broker: BROKER, backend: REDIS_URL, env: peerEnv(queue) })]);
  const pyLane = new Lane('lab2py', (queue) => [startPythonWorker({ queue, env: peerEnv(queue) })]);
  const mixedLane = new Lane('mixed', (queue) => [
    startLabWorker({ module: LAB_TASKS, queue, broker: BROKER, backend: REDIS_URL, env: peerEnv(queue) }),
    startPythonWorker({ queue, env: peerEnv(queue) }),
  ]);

  // msgpack both ways: Python with task_serializer = result_serializer = 'msgpack'; a lab worker storing msgpack.
  const msgpackEnv = (queue: string): NodeJS.ProcessEnv => ({ ...peerEnv(queue), LAB_INTEROP_SERIALIZER: 'msgpack' });
  const msgpackLabLane = new Lane('py2lab-msgpack', (queue) => [startLabWorker({ module: LAB_TASKS, queue, broker: BROKER, backend: REDIS_URL, env: msgpackEnv(queue), extra: ['--result-serializer', 'msgpack'] })]);
  const msgpackPyLane = new Lane('lab2py-msgpack', (queue) => [startPythonWorker({ queue, env: msgpackEnv(queue) })]);
  msgpackPyLane.app.configFromObject({ task_serializer: 'msgpack' });

  // worker_direct both ways: a lab worker and a Python worker, each with a node name of this run's own.
  const directNode = (who: string): string => `${who}-${RUN}@interop`;
  const labDirectLane = new Lane('py2lab-direct', (queue) => [startLabWorker({ module: LAB_TASKS, queue, broker: BROKER, backend: REDIS_URL, env: peerEnv(queue), extra: ['--worker-direct', '--hostname', directNode('lab')] })], [workerDirectDeclaration(directNode('lab'))]);
  const pyDirectLane = new Lane('lab2py-direct', (queue) => [startPythonWorker({ queue, name: directNode('py'), env: { ...peerEnv(queue), LAB_INTEROP_WORKER_DIRECT: '1' } })], [workerDirectDeclaration(directNode('py'))]);

  test.after(async () => {
    await Promise.all([labLane.close(), pyLane.close(), mixedLane.close(), msgpackLabLane.close(), msgpackPyLane.close(), labDirectLane.close(), pyDirectLane.close()]);
    await redisClient?.quit().catch(() => undefined);
  });

  interface PyExc {
    raised: boolean;
    type: string;
    module: string;
    str: string;
    args: unknown[];
    is_exception: boolean;
    state?: string;
    traceback?: string | null;
    builtin_type_error?: boolean;
  }

  test.describe(`${label}: Python Celery client → lab worker`, () => {
    const py = <T = Record<string, unknown>>(scenario: string, params: unknown[] = []): Promise<T> => pythonClient<T>(scenario, params, peerEnv(labLane.queue));

    test('delay().get() returns the value; the result is in Celery’s Redis layout and Python’s AsyncResult reads it', async (t) => {
      if (!(await labLane.ready(t))) return;
      const r = await py<{ id: string; result: unknown; state: string }>('echo', ['Python rocks!']);
      assert.deepEqual([r.result, r.state], ['Python rocks!', 'SUCCESS']);
      const key = `celery-task-meta-${r.id}`;
      assert.match(key, CELERY_TASK_KEY);
      const stored = JSON.parse((await rc().get(key)) ?? 'null') as Record<string, unknown>;
      // Celery's keys, plus when the task ran and where (lab's timing keys; `worker` is Celery's result_extended name).
      assert.deepEqual(Object.keys(stored).sort(), ['children', 'date_done', 'lab_finished', 'lab_started', 'result', 'status', 'task_id', 'traceback', 'worker']);
      assert.ok((stored.lab_started as number) <= (stored.lab_finished as number) && Math.abs((stored.lab_finished as number) * 1000 - Date.now()) < 60_000, 'epoch seconds');
      assert.deepEqual([stored.status, stored.result, stored.task_id, stored.traceback], ['SUCCESS', 'Python rocks!', r.id, null]);
      assert.match(String(stored.date_done), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?$/, 'date_done is a naive UTC ISO time');
      const ttl = await rc().ttl(key);
      assert.ok(ttl > 0 && ttl <= EXPIRES, `the result expires (ttl ${ttl})`);
      const read = await py<{ state: string; result: unknown; successful: boolean; date_done: string; date_done_type: string; meta_keys: string[] }>('read', [r.id]);
      assert.equal(read.state, 'SUCCESS');
      assert.equal(read.result, 'Python rocks!');
      assert.equal(read.successful, true);
      assert.equal(read.date_done_type, 'datetime');
      assert.ok(Math.abs(Date.parse(`${read.date_done}Z`) - Date.parse(`${String(stored.date_done)}Z`)) < 1, `${read.date_done} vs ${String(stored.date_done)}`);
      await rc().del(key);
    });

    test('keyword arguments from Python bind to the lab task’s named parameters', async (t) => {
      if (!(await labLane.ready(t))) return;
      assert.deepEqual(await py('kwargs'), { result: 42 });
    });

    test('a lab task that throws TypeError raises TypeError in Python, with the message and the lab traceback', async (t) => {
      if (!(await labLane.ready(t))) return;
      const r = await py<PyExc>('boom', ['TypeError', 'bad type']);
      assert.equal(r.raised, true);
      assert.deepEqual([r.type, r.module, r.str, r.args], ['TypeError', 'builtins', 'bad type', ['bad type']]);
      assert.equal(r.builtin_type_error, true, 'AsyncResult.result is a real builtins.TypeError');
      assert.equal(r.state, 'FAILURE');
      assert.match(r.traceback ?? '', /TypeError: bad type\n\s+at /);
    });

    test('a lab error type Python does not know (exc_module null) becomes a synthesized exception class of that name', async (t) => {
      if (!(await labLane.ready(t))) return;
      for (const kind of ['RangeError', 'InteropError']) {
        const r = await py<PyExc>('boom', [kind, `${kind} here`]);
        assert.equal(r.raised, true);
        assert.deepEqual([r.type, r.str, r.is_exception], [kind, `${kind} here`, true], kind);
        assert.equal(r.module, 'celery.backends.base', `${kind}: Celery's create_exception_cls`);
      }
    });

    test('an exc_module Python has not imported: Celery synthesizes the class in celery.exceptions', async (t) => {
      if (!(await labLane.ready(t))) return;
      const r = await py<PyExc>('boom', ['ModuleError', 'from a module Python lacks']);
      assert.deepEqual([r.raised, r.type, r.module, r.str, r.is_exception], [true, 'ModuleError', 'celery.exceptions', 'from a module Python lacks', true]);
    });

    test('countdown: Python’s ETA (isoformat, +00:00) holds the task in the lab worker until due', async (t) => {
      if (!(await labLane.ready(t))) return;
      const r = await py<{ delay_ms: number }>('countdown', [0.6]);
      assert.ok(r.delay_ms >= 590, `ran ${r.delay_ms} ms after sending`);
      assert.ok(r.delay_ms < 5000, `ran ${r.delay_ms} ms after sending`);
    });

    test('expires: a task past its expiry is REVOKED and Python raises TaskRevokedError("expired")', async (t) => {
      if (!(await labLane.ready(t))) return;
      const r = await py<PyExc>('expires');
      assert.deepEqual([r.raised, r.type, r.module, r.str, r.state], [true, 'TaskRevokedError', 'celery.exceptions', 'expired', 'REVOKED']);
    });

    test('retry: the lab task retries under the same id, retries counting up, until it succeeds', async (t) => {
      if (!(await labLane.ready(t))) return;
      const r = await py<{ id: string; result: { retries: number; id: string }; state: string }>('retry', [3]);
      assert.deepEqual(r.result, { retries: 2, id: r.id });
    });

    test('a Python group served by the lab worker returns results in member order', async (t) => {
      if (!(await labLane.ready(t))) return;
      const r = await py<{ result: number[] }>('group', [10]);
      assert.deepEqual(r.result, Array.from({ length: 10 }, (_, i) => 2 * i));
    });

    test('a Python chord(header)(body): lab workers run header and body; the .j/.t/.s keys are cleaned up', async (t) => {
      if (!(await labLane.ready(t))) return;
      const r = await py<{ result: number; group_id: string; id: string }>('chord', [8]);
      assert.equal(r.result, 56);
      assert.deepEqual(await chordKeys(r.group_id), []);
    });

    test('a Python chord whose header fails: the body fails with ChordError naming the failed dependency', async (t) => {
      if (!(await labLane.ready(t))) return;
      const r = await py<PyExc & { group_id: string; body: PyExc }>('chord_fail');
      // Python's get() follows the parents: it may raise the header's TypeError before the body's ChordError lands.
      assert.equal(r.raised, true);
      assert.ok(r.type === 'ChordError' || (r.type === 'TypeError' && r.str === 'header broke'), `${r.type}: ${r.str}`);
      assert.deepEqual([r.body.type, r.body.module, r.body.state], ['ChordError', 'celery.exceptions', 'FAILURE']);
      assert.match(r.body.str, /^Dependency [0-9a-f-]{36} raised TypeError\('header broke'\)$/);
      assert.deepEqual(await chordKeys(r.group_id), [], 'the lab worker cleans up a failed chord too');
    });

    test('a Python chain: the lab worker passes each result on (embed.chain, reversed)', async (t) => {
      if (!(await labLane.ready(t))) return;
      const r = await py<{ result: number }>('chain');
      assert.equal(r.result, 10);
    });

    test('the lab task sees Python’s headers: args, kwargs, eta, expires, retries, root_id', async (t) => {
      if (!(await labLane.ready(t))) return;
      const r = await py<{ id: string; result: Record<string, unknown> }>('info');
      const seen = r.result;
      assert.deepEqual([seen.id, seen.task, seen.args, seen.kwargs, seen.retries, seen.root_id, seen.parent_id, seen.group], [r.id, 'interop.info', [1, 2], { k: 3 }, 0, r.id, null, null]);
      const eta = Date.parse(String(seen.eta));
      const expires = Date.parse(String(seen.expires));
      assert.ok(Number.isFinite(eta) && Number.isFinite(expires), `eta ${String(seen.eta)}, expires ${String(seen.expires)}`);
      assert.ok(expires - eta > 55_000 && expires - eta < 61_000, 'expires is 60 s after sending, eta 0.2 s');
    });

    test('header integers beyond int32 (py-amqp tag L), negative and ≥ 128 are read; the lab worker stays connected', async (t) => {
      if (!(await labLane.ready(t))) return;
      const mark = labLane.peer().stderr().length;
      const r = await py<{ id: string; result: Record<string, unknown> }>('wide_headers');
      assert.deepEqual([r.result.id, r.result.args], [r.id, ['big']]);
      assert.doesNotMatch(labLane.peer().stderr().slice(mark), /connection lost|reconnect|Unexpected type tag/);
      assert.equal((await py<{ result: string }>('echo', ['after'])).result, 'after');
    });

    test('ignore_result=True from Python: the lab worker stores nothing', async (t) => {
      if (!(await labLane.ready(t))) return;
      const r = await py<{ id: string; state: string }>('ignore_result');
      assert.equal(r.state, 'PENDING');
      assert.equal(await rc().exists(`celery-task-meta-${r.id}`), 0);
    });

    test('the lab worker logged each task it got and nothing it could not handle', async (t) => {
      if (!(await labLane.ready(t))) return;
      const log = labLane.peer().stderr();
      assert.doesNotMatch(log, /Received invalid task message|could not|internal error|unregistered task|Unhandled|UnhandledPromiseRejection/);
      assert.match(log, /Received task: interop\.flaky\[[0-9a-f-]{36}\]\s+ETA:\[/);
      const errors = log.split('\n').filter((l) => /: ERROR\//.test(l));
      assert.ok(errors.length > 0 && errors.every((l) => /raised unexpected: (TypeError|RangeError|InteropError|ModuleError)\(/.test(l)), errors.join('\n'));
    });
  });

  test.describe(`${label}: lab client → Python Celery worker`, () => {
    const app = (): App => pyLane.app;
    const send = (name: string, args: unknown[] = [], kwargs: Record<string, unknown> = {}, options = {}) => app().sendTask(name, args, kwargs, options);

    test('a task round-trips; lab reads the meta Python stored', async (t) => {
      if (!(await pyLane.ready(t))) return;
      const r = await send('test.echo', ['Python rocks!']);
      assert.equal(await r.get({ timeout: 20 }), 'Python rocks!');
      assert.equal(r.state, 'SUCCESS');
      assert.match(String(r.meta?.date_done), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/, 'Python writes a naive UTC isoformat()');
      await r.forget();
    });

    test('a Python exception arrives as TaskFailedError with excType, excModule and excMessage', async (t) => {
      if (!(await pyLane.ready(t))) return;
      const cases: [string, string, string, string][] = [
        ['TypeError', 'TypeError', 'builtins', 'bad type'],
        ['KeyError', 'KeyError', 'builtins', 'bad type'],
        ['OSError', 'FileNotFoundError', 'builtins', "(2, 'bad type')"],
        ['InteropError', 'InteropError', 'pytasks', 'bad type'],
      ];
      for (const [kind, excType, excModule, excMessage] of cases) {
        const r = await send('interop.boom', [kind, 'bad type']);
        await assert.rejects(r.get({ timeout: 20 }), (err: unknown) => {
          assert.ok(err instanceof TaskFailedError, kind);
          assert.deepEqual([err.excType, err.excModule, err.excMessage], [excType, excModule, excMessage], kind);
          assert.match(err.remoteTraceback ?? '', /^Traceback \(most recent call last\):/);
          return true;
        });
        assert.equal(r.state, 'FAILURE');
        await r.forget();
      }
    });

    test('countdown: the Python worker reads lab’s ETA and runs the task no earlier', async (t) => {
      if (!(await pyLane.ready(t))) return;
      const sent = Date.now();
      const r = await send('interop.now', [], {}, { countdown: 0.6 });
      const ranAt = (await r.get({ timeout: 20 })) as number;
      assert.ok(ranAt - sent >= 590, `ran ${ranAt - sent} ms after sending`);
      await r.forget();
    });

    test('expires: the Python worker revokes an expired task and lab gets TaskRevokedError', async (t) => {
      if (!(await pyLane.ready(t))) return;
      const r = await send('test.echo', ['late'], {}, { countdown: 1, expires: 0.3 });
      await assert.rejects(r.get({ timeout: 20 }), (err: unknown) => err instanceof TaskRevokedError && err.reason === 'expired');
      assert.equal(r.state, 'REVOKED');
      await r.forget();
    });

    test('retry: the Python task retries under the same id', async (t) => {
      if (!(await pyLane.ready(t))) return;
      const r = await send('interop.flaky', [3]);
      assert.deepEqual(await r.get({ timeout: 20 }), { retries: 2, id: r.id });
      await r.forget();
    });

    test('a lab group served by the Python worker', async (t) => {
      if (!(await pyLane.ready(t))) return;
      const g = await group(Array.from({ length: 10 }, (_, i) => pyLane.sig('interop.add', i, i))).applyAsync();
      assert.deepEqual(await g.get({ timeout: 20 }), Array.from({ length: 10 }, (_, i) => 2 * i));
      await g.forget();
    });

    test('a lab chord served by the Python worker: body gets the ordered results; .j/.t/.s keys cleaned up', async (t) => {
      if (!(await pyLane.ready(t))) return;
      const groupId = `lab-chord-${RUN}-1`;
      const r = await chord(Array.from({ length: 8 }, (_, i) => pyLane.sig('interop.add', i, i)), pyLane.sig('interop.sum')).applyAsync({ groupId });
      assert.equal(await r.get({ timeout: 20 }), 56);
      // Celery 5.2 raises the ChordError before its cleanup: a failed chord's keys stay until result_expires.
      for (const key of await chordKeys(groupId)) {
        const ttl = await rc().ttl(key);
        assert.ok(ttl > 0 && ttl <= EXPIRES, `${key} expires (ttl ${ttl})`);
        await rc().del(key);
      }
      await r.forget();
    });

    test('a lab chord whose header fails in Python: ChordError from celery.exceptions', async (t) => {
      if (!(await pyLane.ready(t))) return;
      const groupId = `lab-chord-${RUN}-2`;
      const r = await chord([pyLane.sig('interop.add', 1, 1), pyLane.sig('interop.boom', 'TypeError', 'header broke')], pyLane.sig('interop.sum')).applyAsync({ groupId });
      await assert.rejects(r.get({ timeout: 20 }), (err: unknown) => {
        assert.ok(err instanceof TaskFailedError);
        assert.deepEqual([err.excType, err.excModule], ['ChordError', 'celery.exceptions']);
        assert.match(err.excMessage, /^Dependency [0-9a-f-]{36} raised TypeError\('header broke'\)$/);
        return true;
      });
      // Celery 5.2 raises the ChordError before its cleanup: a failed chord's keys stay until result_expires.
      for (const key of await chordKeys(groupId)) {
        const ttl = await rc().ttl(key);
        assert.ok(ttl > 0 && ttl <= EXPIRES, `${key} expires (ttl ${ttl})`);
        await rc().del(key);
      }
      await r.forget();
    });

    test('a lab chain continued by the Python worker', async (t) => {
      if (!(await pyLane.ready(t))) return;
      const r = await chain(pyLane.sig('interop.add', 1, 2), pyLane.sig('interop.add', 3), pyLane.sig('interop.add', 4)).applyAsync();
      assert.equal(await r.get({ timeout: 20 }), 10);
    });

    test('NaN and ±Infinity in a Python result are read as numbers', async (t) => {
      if (!(await pyLane.ready(t))) return;
      const r = await send('interop.nan');
      const v = (await r.get({ timeout: 20 })) as number[];
      assert.ok(Number.isNaN(v[0]));
      assert.deepEqual(v.slice(1), [Infinity, -Infinity, 1.5]);
      await r.forget();
    });

    test('the Python worker sees lab’s message as Celery would send it (headers and properties)', async (t) => {
      if (!(await pyLane.ready(t))) return;
      const r = await send('interop.info', [1, 2], { k: 3 }, { countdown: 0.2, expires: 60, timeLimit: 30, softTimeLimit: 20 });
      const seen = (await r.get({ timeout: 20 })) as Record<string, unknown>;
      assert.deepEqual(
        [seen.id, seen.task, seen.args, seen.kwargs, seen.retries, seen.root_id, seen.parent_id, seen.group, seen.group_index],
        [r.id, 'interop.info', [1, 2], { k: 3 }, 0, r.id, null, null, null],
      );
      assert.deepEqual(seen.timelimit, [30, 20], 'timelimit is [hard, soft]');
      assert.equal(seen.argsrepr, '(1, 2)');
      assert.equal(seen.kwargsrepr, "{'k': 3}");
      assert.match(String(seen.origin), /^gen\d+@/);
      assert.equal(seen.ignore_result, false);
      assert.equal(seen.correlation_id, r.id);
      assert.match(String(seen.reply_to), /^[0-9a-f-]{36}$/);
      assert.notEqual(seen.reply_to, r.id, 'reply_to names a reply queue (the client), not the task');
      assert.match(String(seen.eta), /\+00:00$/);
      assert.match(String(seen.expires), /\+00:00$/);
      // AMQP says redelivered=false; kombu's Redis transport only sets the flag when it restores a message (Python
      // Celery's own messages on Redis carry none either).
      assert.deepEqual(seen.delivery_info, { exchange: '', routing_key: pyLane.queue, priority: 0, redelivered: redeliveredFlag });
      await r.forget();
    });

    test('a group of 200 (group_index ≥ 128) and time limits ≥ 128 s: the Python worker reads every header table', async (t) => {
      if (!(await pyLane.ready(t))) return;
      // amqplib would write 128..32767 as 's' (int16), which py-amqp reads as a short string: the Python worker's
      // connection would drop on every such message. The adapter writes them as 'I'.
      const mark = pyLane.peer().output().length;
      const g = await group(Array.from({ length: 200 }, (_, i) => pyLane.sig('interop.add', i, 1))).applyAsync();
      assert.deepEqual(await g.get({ timeout: 30 }), Array.from({ length: 200 }, (_, i) => i + 1));
      await g.forget();
      const r = await send('interop.info', [], {}, { timeLimit: 300, softTimeLimit: 200, priority: 0 });
      assert.deepEqual(((await r.get({ timeout: 20 })) as { timelimit: unknown }).timelimit, [300, 200]);
      await r.forget();
      assert.doesNotMatch(pyLane.peer().output().slice(mark), /Connection to broker lost|FrameSyntaxError/);
    });

    test('ignore_result from lab: the Python worker stores nothing', async (t) => {
      if (!(await pyLane.ready(t))) return;
      const quiet = await send('test.echo', ['quiet'], {}, { ignoreResult: true });
      const marker = await send('test.echo', ['marker']);
      await marker.get({ timeout: 20 });
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(await rc().exists(`celery-task-meta-${quiet.id}`), 0);
      await marker.forget();
    });
  });

  test.describe(`${label}: msgpack (application/x-msgpack) both ways`, () => {
    interface Typed {
      id: string;
      types: Record<string, string>;
      bytes: number[];
      nan: boolean;
      same: Record<string, boolean>;
      content_type: string;
    }
    const PY_TYPES = { big: 'int', bytes: 'bytes', float: 'float', list: 'list', map: 'dict', nan: 'float', text: 'str' };

    test('a Python client with task_serializer msgpack → lab worker → msgpack result Python reads: str, bytes, floats, int64, maps', async (t) => {
      if (!(await msgpackLabLane.ready(t))) return;
      const r = await pythonClient<Typed>('typed_echo', [], msgpackEnv(msgpackLabLane.queue));
      assert.equal(r.content_type, 'application/x-msgpack');
      assert.deepEqual(r.types, PY_TYPES, 'bin stays bytes, str stays str (use_bin_type / raw=False)');
      assert.deepEqual(r.bytes, [0, 255, 1]);
      assert.equal(r.nan, true);
      assert.deepEqual(Object.values(r.same), [true, true, true, true, true, true]);
      const stored = await rc().getBuffer(`celery-task-meta-${r.id}`);
      assert.ok(stored && stored[0] >= 0x80 && stored[0] <= 0x8f, 'the lab worker stored a msgpack map');
      assert.match(msgpackLabLane.peer().stderr(), /Task test\.echo\[[^\]]+\] succeeded/);
      await rc().del(`celery-task-meta-${r.id}`);
    });

    test('a lab client with serializer msgpack → Python worker (accept_content json, msgpack) → its msgpack result read by lab', async (t) => {
      if (!(await msgpackPyLane.ready(t))) return;
      const value = { text: 'héllo ✓', bytes: new Uint8Array([0, 255, 1]), float: 1.5, nan: NaN, big: 2 ** 40, list: [1, null, true], map: { k: [1, 2] } };
      const r = await msgpackPyLane.app.sendTask('test.echo', [value]);
      const got = (await r.get({ timeout: 20 })) as typeof value;
      assert.ok(got.bytes instanceof Uint8Array, 'Python bytes come back as bytes');
      assert.deepEqual({ ...got, bytes: [...got.bytes] }, { ...value, bytes: [0, 255, 1] });
      const stored = await rc().getBuffer(`celery-task-meta-${r.id}`);
      assert.ok(stored && stored[0] >= 0x80, 'Python stored its result with msgpack');
      const chordResult = await chord([0, 1, 2].map((i) => msgpackPyLane.sig('interop.add', i, i)), msgpackPyLane.sig('interop.sum')).applyAsync();
      assert.equal(await chordResult.get({ timeout: 20 }), 6);
      await r.forget();
    });
  });

  test.describe(`${label}: lab and Python workers on one queue`, () => {
    test('a lab chord and a Python chord, each served by both kinds of worker, complete exactly once', async (t) => {
      if (!(await mixedLane.ready(t))) return;
      const n = 40;
      const groupId = `lab-chord-${RUN}-mixed`;
      const lab = await chord(Array.from({ length: n }, (_, i) => mixedLane.sig('interop.add', i, i)), mixedLane.sig('interop.sum')).applyAsync({ groupId });
      const [labSum, py] = await Promise.all([lab.get({ timeout: 30 }), pythonClient<{ result: number; group_id: string }>('chord', [n], peerEnv(mixedLane.queue))]);
      const want = n * (n - 1);
      assert.equal(labSum, want);
      assert.equal(py.result, want);
      assert.deepEqual(await chordKeys(groupId), []);
      assert.deepEqual(await chordKeys(py.group_id), []);
      const labRan = (mixedLane.peer(0).stderr().match(/Task interop\.add\[/g) ?? []).length;
      const pyRan = (mixedLane.peer(1).output().match(/Task interop\.add\[[^\]]+\] succeeded/g) ?? []).length;
      assert.equal(labRan + pyRan, 2 * n, `lab ran ${labRan}, Python ran ${pyRan}`);
      assert.ok(labRan > 0 && pyRan > 0, `both kinds served the chords (lab ${labRan}, Python ${pyRan})`);
      const bodies = (mixedLane.peer(0).stderr().match(/Task interop\.sum\[/g) ?? []).length + (mixedLane.peer(1).output().match(/Task interop\.sum\[[^\]]+\] succeeded/g) ?? []).length;
      assert.equal(bodies, 2, 'each chord body ran once');
      await lab.forget();
    });
  });

  test.describe(`${label}: worker_direct (a task for one named worker)`, () => {
    test('a Python client sends to one lab worker by name (worker_direct): it runs there, taken from <node>.dq2', async (t) => {
      if (!(await labDirectLane.ready(t))) return;
      const node = directNode('lab');
      const out = await pythonClient<{ result: unknown }>('direct', [node], peerEnv(labDirectLane.queue));
      assert.deepEqual(out.result, { hostname: node, queue: `${node}.dq2` });
    });

    test('lab sends to one Python worker by name (workerDirect): it runs there, routed by exchange C.dq2 and its name', async (t) => {
      if (!(await pyDirectLane.ready(t))) return;
      const node = directNode('py');
      const r = await pyDirectLane.app.sendTask('interop.where', [], {}, workerDirect(node));
      assert.deepEqual(await r.get({ timeout: 20 }), { hostname: node, exchange: 'C.dq2', routing_key: node });
    });
  });
}
