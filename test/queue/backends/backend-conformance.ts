/**
 * The ResultBackend conformance suite: what every result backend (memory, Redis) must do, as Celery's Redis
 * backend does it. `backendConformance(name, makeBackend, cleanup, { makePeer })`:
 * - makeBackend(): a fresh, connected backend for one test;
 * - makePeer(first): a second client of the same store (another process's view: for Redis a new connection,
 *   for memory the same instance) — stores from the peer must wake waiters on the first;
 * - cleanup(used): delete what the test stored (task ids and group ids), even when it failed.
 */
import test from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { dateDone } from '../../../lab/queue/backend.js';
import { EncodedResult } from '../../../lab/queue/json-codec.js';
import type { ChordPart, ResultBackend, TaskMeta, TaskState } from '../../../lab/queue/backend.js';
import { TaskTimeoutError } from '../../../lab/queue/errors.js';
import { sleep } from '../transport-helpers.js';

export interface Used {
  taskIds: string[];
  groupIds: string[];
}

export interface BackendConformanceOptions {
  gate?: (t: TestContext) => Promise<boolean>;
  /** A second client of the same store; default: the first backend itself. */
  makePeer?: (first: ResultBackend) => Promise<ResultBackend>;
}

export function meta(taskId: string, status: TaskState, result: unknown = null, extra: Partial<TaskMeta> = {}): TaskMeta {
  const ready = status === 'SUCCESS' || status === 'FAILURE' || status === 'REVOKED';
  return { status, result, traceback: null, children: [], date_done: ready ? dateDone() : null, task_id: taskId, ...extra };
}

/** Settle-state of a promise without waiting for it. */
function probe<T>(p: Promise<T>): () => 'pending' | 'fulfilled' | 'rejected' {
  let state: 'pending' | 'fulfilled' | 'rejected' = 'pending';
  p.then(
    () => (state = 'fulfilled'),
    () => (state = 'rejected'),
  );
  return () => state;
}

interface Ctx {
  backend: ResultBackend;
  peer: ResultBackend;
  id(): string;
  gid(): string;
}

export function backendConformance(name: string, makeBackend: () => Promise<ResultBackend>, cleanup: (used: Used) => Promise<void>, options: BackendConformanceOptions = {}): void {
  const gate = options.gate ?? (async () => true);
  const makePeer = options.makePeer ?? (async (first: ResultBackend) => first);

  const it = (title: string, fn: (ctx: Ctx, t: TestContext) => Promise<void>): void => {
    test(`${name} backend: ${title}`, async (t) => {
      if (!(await gate(t))) return;
      const used: Used = { taskIds: [], groupIds: [] };
      const opened = new Set<ResultBackend>();
      t.after(async () => {
        try {
          await cleanup(used);
        } finally {
          for (const b of opened) await b.close();
        }
      });
      const backend = await makeBackend();
      opened.add(backend);
      const peer = await makePeer(backend);
      opened.add(peer);
      await fn(
        {
          backend,
          peer,
          id: () => {
            const id = randomUUID();
            used.taskIds.push(id);
            return id;
          },
          gid: () => {
            const id = randomUUID();
            used.groupIds.push(id);
            return id;
          },
        },
        t,
      );
    });
  };

  it('store + get round trip; a missing task is null', async ({ backend, peer, id }) => {
    const a = id();
    const m = meta(a, 'SUCCESS', { list: [1, 2.5, 'three', null], nested: { ok: true }, text: 'naïve ☃ 😀' }, { group_id: null, parent_id: null });
    await backend.store(m);
    assert.deepEqual(await backend.get(a), m);
    assert.deepEqual(await peer.get(a), m);
    assert.equal(await backend.get(id()), null);
  });

  it('an EncodedResult is spliced into the stored meta as JSON', async ({ backend, id }) => {
    const a = id();
    await backend.store({ ...meta(a, 'SUCCESS'), result: new EncodedResult('{"x":[1,2,3],"s":"é"}') });
    const got = await backend.get(a);
    assert.deepEqual(got, { ...meta(a, 'SUCCESS', { x: [1, 2, 3], s: 'é' }), date_done: got?.date_done });
    assert.equal(typeof got?.date_done, 'string');
  });

  it('a stored SUCCESS is never overwritten; other states are', async ({ backend, peer, id }) => {
    const a = id();
    await backend.store(meta(a, 'STARTED'));
    assert.equal((await backend.get(a))?.status, 'STARTED');
    await backend.store(meta(a, 'RETRY', { exc_type: 'ValueError', exc_message: ['again'], exc_module: 'builtins' }));
    assert.equal((await backend.get(a))?.status, 'RETRY');
    await backend.store(meta(a, 'SUCCESS', 42));
    await peer.store(meta(a, 'FAILURE', { exc_type: 'WorkerLostError', exc_message: ['lost'], exc_module: 'billiard.exceptions' }));
    await backend.store(meta(a, 'STARTED'));
    const got = await backend.get(a);
    assert.equal(got?.status, 'SUCCESS');
    assert.equal(got?.result, 42);
  });

  it('watch, then a store (from another client) wakes wait', async ({ backend, peer, id }) => {
    const a = id();
    await backend.watch([a]);
    const waiting = backend.wait(a, 5000);
    await sleep(20);
    await peer.store(meta(a, 'SUCCESS', 'done'));
    const got = await waiting;
    assert.equal(got.status, 'SUCCESS');
    assert.equal(got.result, 'done');
    backend.unwatch([a]);
  });

  it('subscribe-before-publish: a result stored between watch() and wait() is not missed', async ({ backend, peer, id }) => {
    const a = id();
    await backend.watch([a]);
    await peer.store(meta(a, 'FAILURE', { exc_type: 'ZeroDivisionError', exc_message: ['division by zero'], exc_module: 'builtins' }));
    const got = await backend.wait(a, 2000);
    assert.equal(got.status, 'FAILURE');
    assert.deepEqual(got.result, { exc_type: 'ZeroDivisionError', exc_message: ['division by zero'], exc_module: 'builtins' });
    backend.unwatch([a]);
  });

  it('wait without watch: resolves when already stored, and when stored later', async ({ backend, peer, id }) => {
    const a = id();
    await peer.store(meta(a, 'REVOKED', { exc_type: 'TaskRevokedError', exc_message: ['expired'], exc_module: 'celery.exceptions' }));
    assert.equal((await backend.wait(a, 2000)).status, 'REVOKED');
    const b = id();
    const waiting = backend.wait(b, 5000);
    await sleep(50);
    await peer.store(meta(b, 'SUCCESS', [1, 2]));
    assert.deepEqual((await waiting).result, [1, 2]);
  });

  it('wait ignores non-ready states (STARTED, RETRY) and resolves on the READY one', async ({ backend, peer, id }) => {
    const a = id();
    await backend.watch([a]);
    const waiting = backend.wait(a, 5000);
    const state = probe(waiting);
    await peer.store(meta(a, 'STARTED', { pid: 1, hostname: 'w' }));
    await sleep(100);
    await peer.store(meta(a, 'RETRY', { exc_type: 'ValueError', exc_message: ['try again'], exc_module: 'builtins' }));
    await sleep(100);
    assert.equal(state(), 'pending');
    await peer.store(meta(a, 'SUCCESS', 'finally'));
    const got = await waiting;
    assert.equal(got.status, 'SUCCESS');
    assert.equal(got.result, 'finally');
    backend.unwatch([a]);
  });

  it('several waiters on one task each get the result (own copies)', async ({ backend, peer, id }) => {
    const a = id();
    const w1 = backend.wait(a, 5000);
    const w2 = backend.wait(a, 5000);
    await sleep(50);
    await peer.store(meta(a, 'SUCCESS', { v: 1 }));
    const [m1, m2] = await Promise.all([w1, w2]);
    assert.deepEqual(m1.result, { v: 1 });
    assert.deepEqual(m2.result, { v: 1 });
    assert.notEqual(m1, m2);
  });

  it('many tasks watched and waited at once all resolve', async ({ backend, peer, id }) => {
    const ids = Array.from({ length: 300 }, () => id());
    await backend.watch(ids);
    const waits = ids.map((x) => backend.wait(x, 10_000));
    await Promise.all(ids.map((x, i) => peer.store(meta(x, 'SUCCESS', i))));
    const got = await Promise.all(waits);
    assert.deepEqual(
      got.map((m) => m.result),
      ids.map((_, i) => i),
    );
    backend.unwatch(ids);
  });

  it('timeout → TaskTimeoutError(taskId, timeoutMs), also when only a non-ready state is stored', async ({ backend, peer, id }) => {
    const a = id();
    await assert.rejects(backend.wait(a, 150), (err: unknown) => err instanceof TaskTimeoutError && err.taskId === a && err.timeoutMs === 150);
    await peer.store(meta(a, 'STARTED'));
    const started = Date.now();
    await assert.rejects(backend.wait(a, 200), TaskTimeoutError);
    assert.ok(Date.now() - started >= 190);
    // still usable afterwards
    await peer.store(meta(a, 'SUCCESS', 1));
    assert.equal((await backend.wait(a, 2000)).result, 1);
  });

  it('abort rejects with the signal reason (before and during the wait)', async ({ backend, id }) => {
    const a = id();
    const reason = new Error('user pressed Ctrl-C');
    const ac = new AbortController();
    const waiting = backend.wait(a, null, ac.signal);
    await sleep(50);
    ac.abort(reason);
    await assert.rejects(waiting, (err: unknown) => err === reason);
    const pre = new AbortController();
    pre.abort(reason);
    await assert.rejects(backend.wait(a, 1000, pre.signal), (err: unknown) => err === reason);
  });

  it('unwatch then watch again still delivers', async ({ backend, peer, id }) => {
    const a = id();
    await backend.watch([a]);
    backend.unwatch([a]);
    await backend.watch([a]);
    const waiting = backend.wait(a, 3000);
    await sleep(20);
    await peer.store(meta(a, 'SUCCESS', 'back'));
    assert.equal((await waiting).result, 'back');
    backend.unwatch([a]);
  });

  it('forget removes the result', async ({ backend, id }) => {
    const a = id();
    await backend.store(meta(a, 'SUCCESS', 1));
    await backend.forget(a);
    assert.equal(await backend.get(a), null);
    await backend.forget(a); // forgetting twice is fine
  });

  it('forgetMany removes every result, across more than one chunk, and leaves others', async ({ backend, id }) => {
    const ids = Array.from({ length: 2_345 }, () => id());
    const keep = id();
    await Promise.all([...ids, keep].map((x) => backend.store(meta(x, 'SUCCESS', x))));
    await backend.forgetMany(ids);
    const left = await Promise.all(ids.map((x) => backend.get(x)));
    assert.equal(left.filter((m) => m !== null).length, 0);
    assert.equal((await backend.get(keep))?.result, keep);
    await backend.forgetMany([]);
  });

  it('saveGroup / restoreGroup', async ({ backend, peer, id, gid }) => {
    const g = gid();
    const ids = [id(), id(), id()];
    await backend.saveGroup(g, ids);
    assert.deepEqual(await peer.restoreGroup(g), ids);
    assert.equal(await backend.restoreGroup(gid()), null);
    await backend.saveGroup(g, []);
    assert.deepEqual(await backend.restoreGroup(g), []);
  });

  it('chord join: null until the last part, then every part ordered by index', async ({ backend, peer, id, gid }) => {
    const g = gid();
    const [a, b, c] = [id(), id(), id()];
    await backend.chordSetSize(g, 3);
    assert.equal(await backend.chordJoin(g, { index: 2, taskId: c, state: 'SUCCESS', result: { z: 'é' } }), null);
    assert.equal(await peer.chordJoin(g, { index: 0, taskId: a, state: 'SUCCESS', result: 1 }), null);
    const fail = { exc_type: 'ValueError', exc_message: ['bad'], exc_module: 'builtins' };
    const parts = await backend.chordJoin(g, { index: 1, taskId: b, state: 'FAILURE', result: fail });
    assert.deepEqual(parts, [
      { index: 0, taskId: a, state: 'SUCCESS', result: 1 },
      { index: 1, taskId: b, state: 'FAILURE', result: fail },
      { index: 2, taskId: c, state: 'SUCCESS', result: { z: 'é' } },
    ]);
    // The chord is gone once complete: a late duplicate cannot complete it again.
    assert.equal(await backend.chordJoin(g, { index: 1, taskId: b, state: 'FAILURE', result: fail }), null);
  });

  it('chord join: a redelivered part counts once', async ({ backend, id, gid }) => {
    const g = gid();
    const [a, b] = [id(), id()];
    await backend.chordSetSize(g, 2);
    assert.equal(await backend.chordJoin(g, { index: 0, taskId: a, state: 'SUCCESS', result: [1] }), null);
    assert.equal(await backend.chordJoin(g, { index: 0, taskId: a, state: 'SUCCESS', result: [1] }), null);
    const parts = await backend.chordJoin(g, { index: 1, taskId: b, state: 'SUCCESS', result: new EncodedResult('[2]') });
    assert.deepEqual(
      parts?.map((p) => p.result),
      [[1], [2]],
    );
  });

  it('chord join: exactly one completion when 50 parts join concurrently from two clients', async ({ backend, peer, id, gid }) => {
    const g = gid();
    const n = 50;
    const ids = Array.from({ length: n }, () => id());
    await backend.chordSetSize(g, n);
    const order = ids.map((_, i) => i).sort(() => Math.random() - 0.5);
    const results = await Promise.all(
      order.map((i) => (i % 2 ? backend : peer).chordJoin(g, { index: i, taskId: ids[i], state: 'SUCCESS', result: i * 10 } satisfies ChordPart)),
    );
    const complete = results.filter((r) => r !== null);
    assert.equal(complete.length, 1);
    assert.deepEqual(
      complete[0]?.map((p) => [p.index, p.taskId, p.result]),
      ids.map((x, i) => [i, x, i * 10]),
    );
  });
}
