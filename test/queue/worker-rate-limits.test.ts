/**
 * A worker's rate limits on a fake clock: the per-type lines of tokens (order, spacing, independence, a rate changed
 * while tasks wait, worker_disable_rate_limits), then a real worker on the embedded broker whose limited tasks wait
 * for the clock and go back to the queue on a warm stop.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { App, MemoryTransports, Worker } from '../../lab/queue/index.js';
import { TaskRateLimits } from '../../lab/queue/worker-rate-limits.js';
import { FakeClock } from '../support/fake-clock.js';

/** A limiter whose releases are recorded as "item@ms since start". */
function limiter(rates: Record<string, number>, enabled = true) {
  const clock = new FakeClock(1_000);
  const released: string[] = [];
  const limits = new TaskRateLimits<string>({ rateOf: (task) => rates[task] ?? 0, release: (item) => void released.push(`${item}@${clock.now() - 1_000}`), clock, enabled });
  return { clock, released, limits };
}

test('tasks over the rate wait in arrival order and are released one token apart; the first goes at once', () => {
  const { clock, released, limits } = limiter({ a: 5 });
  for (let i = 0; i < 10; i++) limits.admit('a', `a${i}`);
  assert.deepEqual(released, ['a0@0']);
  assert.equal(limits.waiting, 9);
  clock.advance(10_000);
  assert.deepEqual(released, Array.from({ length: 10 }, (_, i) => `a${i}@${i * 200}`), '5/s: 200 ms apart, 1.8 s for ten');
  assert.equal(limits.waiting, 0);
  assert.equal(clock.pending, 0, 'no timer left once the line is empty');
  assert.ok(clock.delays.every((d) => d === 200), `one timer per token, never a busy loop: ${clock.delays.join(', ')}`);
});

test('each task type has its own bucket; a type without a limit is never held behind a limited one', () => {
  const { clock, released, limits } = limiter({ slow: 1, fast: 10 });
  limits.admit('slow', 's0');
  limits.admit('slow', 's1');
  limits.admit('free', 'f0');
  limits.admit('fast', 'x0');
  limits.admit('fast', 'x1');
  assert.deepEqual(released, ['s0@0', 'f0@0', 'x0@0']);
  clock.advance(100);
  assert.deepEqual(released.slice(3), ['x1@100']);
  clock.advance(900);
  assert.deepEqual(released.slice(4), ['s1@1000']);
});

test('an idle bucket holds one token, not the idle time’s worth', () => {
  const { clock, released, limits } = limiter({ a: 2 });
  limits.admit('a', 'a0');
  clock.advance(60_000);
  limits.admit('a', 'a1');
  limits.admit('a', 'a2');
  clock.advance(500);
  assert.deepEqual(released, ['a0@0', 'a1@60000', 'a2@60500']);
});

test('a rate changed at run time applies to the tasks already waiting, in their order; 0 lets them all go', () => {
  const rates: Record<string, number> = { a: 1 };
  const { clock, released, limits } = limiter(rates);
  for (let i = 0; i < 4; i++) limits.admit('a', `a${i}`);
  clock.advance(1_000);
  assert.deepEqual(released, ['a0@0', 'a1@1000']);
  rates.a = 10;
  limits.reset('a');
  assert.deepEqual(released.slice(2), ['a2@1000'], 'a new bucket starts full');
  clock.advance(100);
  assert.deepEqual(released.slice(3), ['a3@1100'], '100 ms at 10/s, not 1 s at the old rate');
  for (let i = 4; i < 7; i++) limits.admit('a', `a${i}`);
  rates.a = 0;
  limits.reset('a');
  assert.deepEqual(released.slice(4), ['a4@1100', 'a5@1100', 'a6@1100']);
  assert.equal(clock.pending, 0, 'the old line’s timer is gone');
  limits.admit('a', 'a7');
  assert.deepEqual(released.slice(7), ['a7@1100']);
});

test('worker_disable_rate_limits: every task is released at once and no rate is even asked', () => {
  const asked: string[] = [];
  const released: string[] = [];
  const limits = new TaskRateLimits<string>({ rateOf: (t) => (asked.push(t), 1), release: (i) => void released.push(i), clock: new FakeClock(0), enabled: false });
  for (let i = 0; i < 5; i++) limits.admit('a', `a${i}`);
  assert.deepEqual(released, ['a0', 'a1', 'a2', 'a3', 'a4']);
  assert.deepEqual(asked, []);
});

test('drain takes every waiting task out and stops the timers', () => {
  const { clock, released, limits } = limiter({ a: 1, b: 1 });
  for (const t of ['a', 'b']) for (let i = 0; i < 3; i++) limits.admit(t, `${t}${i}`);
  assert.deepEqual(limits.drain().sort(), ['a1', 'a2', 'b1', 'b2']);
  clock.advance(10_000);
  assert.deepEqual(released, ['a0@0', 'b0@0']);
  assert.equal(limits.waiting, 0);
});

const TASKS = new URL('../fixtures/queue/tasks.js', import.meta.url);

async function embedded(name: string) {
  const hub = new MemoryTransports();
  const app = new App(name, { broker: 'memory://', backend: 'memory://', memory: hub, include: [TASKS] });
  const { limited } = await import('../fixtures/queue/tasks.js');
  return { hub, app, limited };
}

test('a worker runs a rate-limited task type at its rate by its clock, serves other types meanwhile; a warm stop hands the waiting ones back', async (t) => {
  const { hub, app, limited } = await embedded('rate-worker');
  assert.equal(limited.options.rateLimit, '1/s');
  const clock = new FakeClock(Date.now());
  const worker = new Worker(app, { pool: 'async', concurrency: 4, clock });
  await worker.start();
  let other: Worker | null = null;
  t.after(async () => {
    await worker.stop({ warm: false });
    await other?.stop({ warm: false });
    await hub.close();
  });
  const sent = [];
  for (let i = 0; i < 4; i++) sent.push(await app.sendTask<[number, number]>('test.limited', [i]));
  assert.equal((await sent[0]!.get({ timeout: 5 }))[0], 0, 'the first at once');
  assert.equal(await (await app.sendTask('test.echo', ['not held'])).get({ timeout: 5 }), 'not held');
  assert.equal(await sent[1]!.refresh(), 'PENDING', 'the second waits for a token');
  clock.advance(999);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(await sent[1]!.refresh(), 'PENDING', 'a millisecond early is still early');
  clock.advance(1);
  assert.equal((await sent[1]!.get({ timeout: 5 }))[0], 1);
  assert.equal(await sent[2]!.refresh(), 'PENDING');
  // Two still wait, unacked: a warm stop gives them back to the queue, and a worker without rate limits runs them.
  await worker.stop({ warm: true });
  other = new Worker(app, { pool: 'async', concurrency: 2, disableRateLimits: true });
  await other.start();
  assert.deepEqual((await Promise.all(sent.slice(2).map((r) => r.get({ timeout: 5 })))).map((r) => r[0]), [2, 3]);
});

test('worker_disable_rate_limits in the app’s config: a limited task type runs without waiting for the clock', async (t) => {
  const { hub, app } = await embedded('rate-off');
  app.configFromObject({ worker_disable_rate_limits: true });
  const worker = new Worker(app, { pool: 'async', concurrency: 4, clock: new FakeClock(Date.now()) });
  await worker.start();
  t.after(async () => {
    await worker.stop({ warm: false });
    await hub.close();
  });
  const sent = await Promise.all([0, 1, 2].map((i) => app.sendTask<[number, number]>('test.limited', [i])));
  assert.deepEqual((await Promise.all(sent.map((r) => r.get({ timeout: 5 })))).map((r) => r[0]), [0, 1, 2]);
});
