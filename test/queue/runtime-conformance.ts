/**
 * The runtime's behaviour, end to end (client → broker → worker → backend → client), as one suite run against
 * every transport pair: the embedded memory pair and RabbitMQ + Redis. The two labs cannot drift apart.
 */
import test from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Worker, chain, chord, group, workerDirect, TaskFailedError, TaskRevokedError, TaskTimeoutError } from '../../lab/queue/index.js';
import type { MemoryTransports, PoolKind } from '../../lab/queue/index.js';
import { buildTaskMessage } from '../../lab/queue/protocol.js';
import * as tasks from '../fixtures/queue/tasks.js';

export interface RuntimeTarget {
  name: string;
  brokerUrl: string;
  backendUrl: string;
  /** For memory:// URLs: the hub the app is bound to (the embedded lab's transports). */
  memory?: MemoryTransports;
  /** Resolves false (after skipping loudly) when the target's servers are missing. */
  available(t: TestContext): Promise<boolean>;
}

const TASKS_MODULE = new URL('../fixtures/queue/tasks.js', import.meta.url);

export function runtimeConformance(target: RuntimeTarget): void {
  const { app } = tasks;
  const queue = `lab-test-${randomBytes(4).toString('hex')}`;
  let configured = false;
  const workers: Worker[] = [];

  async function setup(t: TestContext, options: { pool?: PoolKind; concurrency?: number; hostname?: string; workerDirect?: boolean } = {}): Promise<Worker | null> {
    if (!(await target.available(t))) return null;
    if (!configured) {
      app.configFromObject({ broker_url: target.brokerUrl, result_backend: target.backendUrl, task_default_queue: queue, result_expires: 300 });
      if (target.memory) app.useMemoryTransports(target.memory);
      configured = true;
    }
    const w = new Worker(app, { pool: options.pool ?? 'threads', concurrency: options.concurrency ?? 2, include: [TASKS_MODULE], hostname: options.hostname, workerDirect: options.workerDirect });
    workers.push(w);
    await w.start();
    return w;
  }

  async function stopAll(): Promise<void> {
    await Promise.all(workers.splice(0).map((w) => w.stop({ warm: false })));
    if (configured) {
      const broker = await app.getBroker().catch(() => null);
      await broker?.purge(queue).catch(() => undefined);
    }
  }

  test.describe(`runtime conformance: ${target.name}`, () => {
    test.afterEach(stopAll);
    test.after(async () => {
      await stopAll();
      if (configured) {
        // Leave no queue or exchange behind on a shared RabbitMQ (results expire on their own: result_expires).
        const broker = await app.getBroker().catch(() => null);
        await broker?.deleteQueue(queue).catch(() => undefined);
      }
      await app.close();
      await target.memory?.close();
    });

    test('a task round-trips its argument', async (t) => {
      if (!(await setup(t))) return;
      const r = await tasks.echo.delay('Python rocks!');
      assert.equal(await r.get({ timeout: 10 }), 'Python rocks!');
      assert.equal(r.state, 'SUCCESS');
      assert.equal(await r.ready(), true);
      assert.equal(await r.successful(), true);
    });

    test('worker_direct: a task sent to one node is run by that node alone, whoever else serves the queue', async (t) => {
      const tag = randomBytes(3).toString('hex');
      const [a, b] = [`a-${tag}@conformance`, `b-${tag}@conformance`];
      const wa = await setup(t, { hostname: a, workerDirect: true });
      if (!wa) return;
      // sent before b exists: the client declares b's direct queue bound to C.dq2, as Celery's does; a does not take it
      const early = await tasks.whoRan.applyAsync([], {}, workerDirect(b));
      const wb = await setup(t, { hostname: b, workerDirect: true });
      assert.equal(wb?.directQueue?.name, `${b}.dq2`);
      assert.deepEqual(await early.get({ timeout: 10 }), [b, `${b}.dq2`]);
      const toA = await Promise.all(Array.from({ length: 8 }, () => tasks.whoRan.applyAsync([], {}, workerDirect(a))));
      for (const r of toA) assert.deepEqual(await r.get({ timeout: 10 }), [a, `${a}.dq2`]);
      // the shared queue is still served (by either worker)
      const shared = await Promise.all(Array.from({ length: 8 }, () => tasks.whoRan.delay()));
      for (const r of shared) assert.equal(((await r.get({ timeout: 10 })) as string[])[1], queue);
      const broker = await app.getBroker();
      for (const node of [a, b]) await broker.deleteQueue(`${node}.dq2`).catch(() => undefined);
    });

    test('keyword arguments bind to named parameters', async (t) => {
      if (!(await setup(t))) return;
      assert.equal(await (await tasks.add.applyAsync([40], { y: 2 })).get({ timeout: 10 }), 42);
    });

    test('one worker slot runs tasks in the order they were sent', async (t) => {
      if (!(await setup(t, { pool: 'prefork', concurrency: 1 }))) return;
      const results = await Promise.all(Array.from({ length: 20 }, () => tasks.now.delay()));
      const times = (await Promise.all(results.map((r) => r.get({ timeout: 10 })))) as number[];
      for (let i = 1; i < times.length; i++) assert.ok(times[i] >= times[i - 1], `task ${i} ran before task ${i - 1}`);
    });

    test('get() with a timeout throws TaskTimeoutError on time', async (t) => {
      if (!(await setup(t))) return;
      const r = await tasks.sleep.delay(3000);
      const t0 = Date.now();
      await assert.rejects(r.get({ timeout: 0.2 }), (err: unknown) => err instanceof TaskTimeoutError && err.taskId === r.id);
      const took = Date.now() - t0;
      assert.ok(took >= 190 && took < 1500, `timed out after ${took} ms`);
    });

    test('a task that throws fails with the remote type, message and traceback', async (t) => {
      if (!(await setup(t))) return;
      const r = await tasks.boom.delay('Booo!');
      await assert.rejects(r.get({ timeout: 10 }), (err: unknown) => {
        assert.ok(err instanceof TaskFailedError);
        assert.equal(err.excType, 'TypeError');
        assert.equal(err.excMessage, 'Booo!');
        assert.match(err.remoteTraceback ?? '', /TypeError: Booo!/);
        return true;
      });
      assert.equal(r.state, 'FAILURE');
      assert.equal(await r.failed(), true);
      const info = (await r.get({ timeout: 10, propagate: false })) as unknown as { exc_type: string; exc_message: string[] };
      assert.deepEqual([info.exc_type, info.exc_message], ['TypeError', ['Booo!']]);
    });

    test('a group returns results in member order; a failing member fails the group', async (t) => {
      if (!(await setup(t))) return;
      const g = await group(Array.from({ length: 10 }, (_, i) => tasks.add.s(i, i))).applyAsync();
      assert.deepEqual(await g.get({ timeout: 10 }), Array.from({ length: 10 }, (_, i) => 2 * i));
      assert.equal(await g.completedCount(), 10);
      const bad = await group([tasks.add.s(1, 1), tasks.boom.s('member 1 broke'), tasks.add.s(2, 2)]).applyAsync();
      await assert.rejects(bad.get({ timeout: 10 }), (err: unknown) => err instanceof TaskFailedError && err.excMessage === 'member 1 broke');
      assert.equal(await bad.completedCount(), 2);
    });

    test('a worker killed mid-task (acks_late) loses nothing: the task is redelivered to another worker', async (t) => {
      const first = await setup(t, { pool: 'prefork', concurrency: 1 });
      if (!first) return;
      const r = await tasks.slowLate.delay(400);
      while (first.stats.active === 0) await new Promise((res) => setTimeout(res, 10));
      await first.stop({ warm: false });
      await setup(t, { pool: 'prefork', concurrency: 1 });
      assert.deepEqual(await r.get({ timeout: 15 }), { redelivered: true });
    });

    test('a pool child that dies fails its task with WorkerLostError, and the worker keeps serving', async (t) => {
      if (!(await setup(t, { pool: 'prefork', concurrency: 1 }))) return;
      const r = await tasks.die.delay();
      await assert.rejects(r.get({ timeout: 10 }), (err: unknown) => err instanceof TaskFailedError && err.excType === 'WorkerLostError');
      assert.equal(await (await tasks.echo.delay('still here')).get({ timeout: 10 }), 'still here');
    });

    test('an unregistered task name fails with NotRegistered', async (t) => {
      if (!(await setup(t))) return;
      const r = await app.sendTask('test.no_such_task', [1]);
      await assert.rejects(r.get({ timeout: 10 }), (err: unknown) => err instanceof TaskFailedError && err.excType === 'NotRegistered');
    });

    test('retry re-runs the task under the same id until it succeeds', async (t) => {
      if (!(await setup(t))) return;
      const r = await tasks.flaky.delay(3);
      assert.equal(await r.get({ timeout: 10 }), 2);
    });

    test('past max_retries the original exception is raised', async (t) => {
      if (!(await setup(t))) return;
      const r = await tasks.alwaysRetry.delay();
      await assert.rejects(r.get({ timeout: 10 }), (err: unknown) => err instanceof TaskFailedError && err.excType === 'RangeError' && err.excMessage === 'still broken');
    });

    test('countdown delays execution', async (t) => {
      if (!(await setup(t))) return;
      const sent = Date.now();
      const r = await tasks.now.applyAsync([], {}, { countdown: 0.4 });
      const ranAt = (await r.get({ timeout: 10 })) as number;
      assert.ok(ranAt - sent >= 390, `ran ${ranAt - sent} ms after sending`);
    });

    test('a task past its expiry is revoked, not run', async (t) => {
      if (!(await setup(t))) return;
      const r = await tasks.echo.applyAsync(['late'], {}, { countdown: 0.5, expires: 0.2 });
      await assert.rejects(r.get({ timeout: 10 }), (err: unknown) => err instanceof TaskRevokedError);
      assert.equal(r.state, 'REVOKED');
    });

    test('a task whose expiry passes while it waits for a pool slot is revoked, not run', async (t) => {
      if (!(await setup(t, { pool: 'threads', concurrency: 1 }))) return;
      const busy = await tasks.sleep.delay(500);
      // Prefetched at once (the window is 4), but the only slot is busy for 500 ms: it expires in the worker.
      const r = await tasks.echo.applyAsync(['too late'], {}, { expires: 0.2 });
      await assert.rejects(r.get({ timeout: 10 }), (err: unknown) => err instanceof TaskRevokedError);
      assert.equal(r.state, 'REVOKED');
      assert.equal(await busy.get({ timeout: 10 }), 500);
    });

    test('a chain passes each result on', async (t) => {
      if (!(await setup(t))) return;
      const r = await chain(tasks.add.s(1, 2), tasks.add.s(3), tasks.add.s(4)).applyAsync();
      assert.equal(await r.get({ timeout: 10 }), 10);
    });

    test('a chord calls its body with the header results in order', async (t) => {
      if (!(await setup(t))) return;
      const r = await chord(
        Array.from({ length: 6 }, (_, i) => tasks.add.s(i, i)),
        tasks.sum.s(),
      ).applyAsync();
      assert.equal(await r.get({ timeout: 10 }), 30);
    });

    test('a chord whose header fails fails its body with ChordError', async (t) => {
      if (!(await setup(t))) return;
      const r = await chord([tasks.add.s(1, 1), tasks.boom.s('header broke')], tasks.sum.s()).applyAsync();
      await assert.rejects(r.get({ timeout: 10 }), (err: unknown) => err instanceof TaskFailedError && err.excType === 'ChordError' && /header broke/.test(err.excMessage));
    });

    test('content other than JSON is refused and never deserialized', async (t) => {
      if (!(await setup(t))) return;
      const message = buildTaskMessage('test.echo', { args: ['x'] });
      message.properties.contentType = 'application/x-python-serialize';
      message.body = Buffer.from('\x80\x04\x95 pickle bytes', 'latin1');
      const id = message.properties.correlationId as string;
      await (await app.getBackend()).watch([id]);
      await app.publish(message, app.route('test.echo'));
      await assert.rejects(app.asyncResult(id).get({ timeout: 10 }), (err: unknown) => err instanceof TaskFailedError && err.excType === 'ContentDisallowed');
      assert.equal(await (await tasks.echo.delay('still serving')).get({ timeout: 10 }), 'still serving');
    });

    test('msgpack bodies and msgpack results: bytes, strings, non-finite floats and maps round-trip; chords join', async (t) => {
      if (!(await setup(t))) return;
      await stopAll();
      const saved = app.config.resultSerializer;
      app.config.resultSerializer = 'msgpack';
      try {
        const w = new Worker(app, { pool: 'threads', concurrency: 2, include: [TASKS_MODULE], acceptContent: ['msgpack'] });
        workers.push(w);
        await w.start();
        const value = { text: 'héllo ✓', bytes: new Uint8Array([0, 255, 1]), nan: NaN, inf: -Infinity, big: 2 ** 40, list: [1, 2.5, null, true], nested: { k: [] } };
        const r = await tasks.echo.applyAsync([value], {}, { serializer: 'msgpack' });
        const got = (await r.get({ timeout: 10 })) as typeof value;
        assert.deepEqual({ ...got, bytes: [...got.bytes] }, { ...value, bytes: [0, 255, 1] });
        assert.ok(got.bytes instanceof Uint8Array, 'bin comes back as bytes, not a string');
        const c = await chord(
          Array.from({ length: 4 }, (_, i) => tasks.add.s(i, i).set({ serializer: 'msgpack' })),
          tasks.sum.s(),
        ).applyAsync();
        assert.equal(await c.get({ timeout: 10 }), 12);
      } finally {
        app.config.resultSerializer = saved;
      }
    });

    test('msgpack is refused unless accept_content names it (ContentDisallowed); JSON is still served', async (t) => {
      if (!(await setup(t))) return;
      await stopAll();
      const w = new Worker(app, { pool: 'threads', concurrency: 2, include: [TASKS_MODULE], acceptContent: ['json'] });
      workers.push(w);
      await w.start();
      const r = await tasks.echo.applyAsync(['packed'], {}, { serializer: 'msgpack' });
      await assert.rejects(r.get({ timeout: 10 }), (err: unknown) => err instanceof TaskFailedError && err.excType === 'ContentDisallowed' && /application\/x-msgpack/.test(err.excMessage));
      assert.equal(await (await tasks.echo.delay('still serving')).get({ timeout: 10 }), 'still serving');
    });

    test('more positional arguments than the task takes fail with TypeError, as in Python', async (t) => {
      if (!(await setup(t))) return;
      const r = await app.sendTask('test.echo', ['one', 'two', 3]);
      await assert.rejects(r.get({ timeout: 10 }), (err: unknown) => err instanceof TaskFailedError && err.excType === 'TypeError' && err.excMessage === 'test.echo() takes 1 positional argument but 3 were given');
    });

    test('a malformed body fails the task with DecodeError and the worker keeps serving', async (t) => {
      if (!(await setup(t))) return;
      for (const body of ['{not json', '{"args": 1}', '[1, 2, 3]']) {
        const message = buildTaskMessage('test.echo', { args: ['x'] });
        message.body = Buffer.from(body);
        const id = message.properties.correlationId as string;
        await (await app.getBackend()).watch([id]);
        await app.publish(message, app.route('test.echo'));
        await assert.rejects(app.asyncResult(id).get({ timeout: 10 }), (err: unknown) => err instanceof TaskFailedError && err.excType === 'DecodeError', body);
      }
      assert.equal(await (await tasks.echo.delay('ok')).get({ timeout: 10 }), 'ok');
    });

    test('a hard time limit kills the task with TimeLimitExceeded', async (t) => {
      if (!(await setup(t, { pool: 'threads', concurrency: 1 }))) return;
      const r = await tasks.busy.applyAsync([5000], {}, { timeLimit: 0.3 });
      await assert.rejects(r.get({ timeout: 10 }), (err: unknown) => err instanceof TaskFailedError && err.excType === 'TimeLimitExceeded');
      assert.equal(await (await tasks.echo.delay('after')).get({ timeout: 10 }), 'after');
    });

    test('the prefetch window bounds what a worker holds: tasks waiting for a slot stay in the queue', async (t) => {
      const w = await setup(t, { pool: 'threads', concurrency: 1 });
      if (!w) return;
      // concurrency 1 × multiplier 4: at most 4 unacked; a task is acked when the slot takes it.
      const results = await Promise.all(Array.from({ length: 20 }, () => tasks.sleep.delay(150)));
      await new Promise((r) => setTimeout(r, 100));
      const broker = await app.getBroker();
      const ready = (await broker.stats(queue)).messages;
      assert.ok(ready >= 20 - 1 - 4 - 1 && ready <= 20 - 4, `${ready} of 20 still waiting in the queue`);
      await Promise.all(results.slice(0, 2).map((r) => r.get({ timeout: 10 })));
    });

    test('a warm stop finishes the running task and hands a held ETA task back to the queue', async (t) => {
      const w = await setup(t, { pool: 'threads', concurrency: 1 });
      if (!w) return;
      const held = await tasks.echo.applyAsync(['later'], {}, { countdown: 60 });
      const running = await tasks.sleep.delay(300);
      while (w.stats.active === 0) await new Promise((r) => setTimeout(r, 10));
      const t0 = Date.now();
      await w.stop({ warm: true });
      assert.ok(Date.now() - t0 < 3000, `warm stop took ${Date.now() - t0} ms`);
      assert.equal(await running.get({ timeout: 1 }), 300, 'the running task finished and its result was stored');
      assert.equal(await held.refresh(), 'PENDING');
      const broker = await app.getBroker();
      assert.equal((await broker.stats(queue)).messages, 1, 'the ETA task is back in the queue');
    });

    test('ignore_result stores nothing', async (t) => {
      if (!(await setup(t))) return;
      const r = await tasks.echo.applyAsync(['quiet'], {}, { ignoreResult: true });
      // Once a later task has finished on the same queue, the ignored one has run too.
      await (await tasks.echo.delay('marker')).get({ timeout: 10 });
      await new Promise((res) => setTimeout(res, 50));
      assert.equal(await r.refresh(), 'PENDING');
    });
  });
}
