/**
 * The process pool sends short jobs ahead to a busy child (so it need not wait for the parent between two tasks)
 * yet starts — and so acks — a job only when its child takes it up: never more started-and-unfinished jobs than
 * children, and a job sent ahead of a child that dies was never started and runs on the child that replaces it.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { buildTaskMessage } from '../../../lab/queue/protocol.js';
import { ChildPool } from '../../../lab/queue/pool/child-pool.js';
import { decodeMsgpack } from '../../../lab/queue/msgpack-codec.js';
import type { Job, JobOutcome } from '../../../lab/queue/pool/job.js';

const TASKS = new URL('../../fixtures/queue/tasks.js', import.meta.url).href;
let seq = 1;

function job(task: string, arg: unknown): Job {
  const id = `job-${seq}`;
  return {
    seq: seq++,
    task,
    body: buildTaskMessage(task, { id, args: [arg] }).body,
    request: { id, task, retries: 0, eta: null, expires: null, group: null, groupIndex: null, rootId: id, parentId: null, hostname: 'celery@test', deliveryInfo: { queue: 'celery', redelivered: false } },
    softTimeLimit: null,
    hardTimeLimit: null,
  };
}

function resultOf(o: JobOutcome): unknown {
  return o.kind === 'success' ? JSON.parse(o.resultJson) : o.kind;
}

test('prefork pool: with short jobs sent ahead, a child still takes up (and acks) a job only after it finished the one before', async () => {
  const pool = new ChildPool('prefork', 2, [TASKS]);
  await pool.start();
  try {
    for (let i = 0; i < 3; i++) await pool.run(job('test.where', null)); // the pool learns the task is short
    const n = 300;
    const startedAt: number[] = new Array(n).fill(0);
    const starts: number[] = new Array(n).fill(0);
    const outcomes = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        pool.run(job('test.where', null), () => {
          starts[i]++;
          startedAt[i] = Date.now();
        }),
      ),
    );
    assert.ok(starts.every((k) => k === 1), 'every job started exactly once');
    // Per child, in the order they were started: each start (the ack) comes after the previous job ended there.
    const byChild = new Map<number, { startedAt: number; endedAt: number }[]>();
    outcomes.forEach((o, i) => {
      assert.equal(o.kind, 'success', JSON.stringify(o));
      const [pid, endedAt] = JSON.parse((o as Extract<JobOutcome, { kind: 'success' }>).resultJson) as [number, number];
      byChild.set(pid, [...(byChild.get(pid) ?? []), { startedAt: startedAt[i], endedAt }]);
    });
    assert.equal(byChild.size, 2);
    for (const runs of byChild.values()) {
      runs.sort((a, b) => a.startedAt - b.startedAt || a.endedAt - b.endedAt);
      for (let k = 1; k < runs.length; k++) assert.ok(runs[k].startedAt >= runs[k - 1].endedAt, `job started at ${runs[k].startedAt} before the previous ended at ${runs[k - 1].endedAt}`);
    }
    assert.equal(pool.active, 0);
  } finally {
    await pool.close(true);
  }
});

test('prefork pool: jobs sent ahead of a child that dies were never started; they run on its replacement', async () => {
  const pool = new ChildPool('prefork', 1, [TASKS]);
  await pool.start();
  // The pool's respawn timer does not hold the process open (a worker's broker connection does): this does.
  const alive = setInterval(() => undefined, 1000);
  try {
    for (const m of ['a', 'b']) await pool.run(job('test.echo_or_exit', m));
    const starts = [0, 0, 0, 0];
    const jobs = ['x', 'exit', 'y', 'z'].map((m) => job('test.echo_or_exit', m));
    const outcomes = await Promise.all(jobs.map((j, i) => pool.run(j, () => starts[i]++)));
    assert.deepEqual(
      outcomes.map((o) => (o.kind === 'success' ? JSON.parse(o.resultJson) : o.kind)),
      ['x', 'lost', 'y', 'z'],
    );
    assert.deepEqual(starts, [1, 1, 1, 1], 'each started once: y and z on the new child');
  } finally {
    clearInterval(alive);
    await pool.close(true);
  }
});

for (const kind of ['prefork', 'threads'] as const) {
  test(`${kind} pool: a large result (sent to the parent as bytes) comes back equal, ASCII or not`, async () => {
    const pool = new ChildPool(kind, 1, [TASKS]);
    await pool.start();
    try {
      const numbers = Array.from({ length: 100_000 }, (_, i) => (i * 7919) % 100_003);
      const text = ['naïve €', '日本', '😀', 'x'.repeat(70_000)];
      for (const value of [numbers, text, [1, 2, 3]]) assert.deepEqual(resultOf(await pool.run(job('test.echo', value))), value);
    } finally {
      await pool.close();
    }
  });
}

for (const kind of ['prefork', 'threads'] as const) {
  test(`${kind} pool: bodies that are not ASCII JSON — UTF-8 text, msgpack (with a msgpack result), malformed UTF-8 — reach the task as sent`, async () => {
    const pool = new ChildPool(kind, 1, [TASKS]);
    await pool.start();
    try {
      assert.deepEqual(resultOf(await pool.run(job('test.echo', 'héllo € 😀'))), 'héllo € 😀');
      const packed = buildTaskMessage('test.echo', { id: 'mp', args: [{ k: 'é', n: [1, 2.5] }], serializer: 'msgpack' });
      const mp = await pool.run({ ...job('test.echo', null), body: packed.body, contentType: packed.properties.contentType, resultSerializer: 'msgpack' });
      assert.equal(mp.kind, 'success', JSON.stringify(mp));
      const { resultMsgpack } = mp as Extract<JobOutcome, { kind: 'success' }>;
      assert.ok(resultMsgpack instanceof Uint8Array, 'a msgpack result comes back as bytes');
      assert.deepEqual(decodeMsgpack(resultMsgpack), { k: 'é', n: [1, 2.5] });
      const malformed = await pool.run({ ...job('test.echo', null), body: Buffer.concat([Buffer.from('[["'), Buffer.from([0xc3, 0x28]), Buffer.from('"],{},{}]')]) });
      assert.equal(malformed.kind, 'failure');
      assert.equal((malformed as Extract<JobOutcome, { kind: 'failure' }>).exc.exc_type, 'DecodeError');
      assert.match(String((malformed as Extract<JobOutcome, { kind: 'failure' }>).exc.exc_message[0]), /not valid UTF-8/);
    } finally {
      await pool.close();
    }
  });
}
