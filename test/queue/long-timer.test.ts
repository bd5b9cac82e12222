/**
 * ETAs of any length: a countdown of a month waits a month (Node's setTimeout would fire it at once), is due at the
 * right time on a fake clock, and is not run early on the real one.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { App, MemoryTransports, Worker } from '../../lab/queue/index.js';
import { MAX_TIMER_MS, setLongTimeout } from '../../lab/queue/long-timer.js';
import { FakeClock } from '../support/fake-clock.js';

const DAY = 86_400_000;

test('a long timer waits in steps no longer than Node allows and fires once, when due, never before', () => {
  const clock = new FakeClock(1_000_000);
  let fired = 0;
  const due = clock.now() + 60 * DAY;
  setLongTimeout(() => fired++, due, clock);
  clock.advance(60 * DAY - 1);
  assert.equal(fired, 0, 'not before it is due');
  assert.ok(clock.delays.every((d) => d > 0 && d <= MAX_TIMER_MS), `steps ${clock.delays.join(', ')}`);
  assert.ok(clock.delays.length >= 3, 'sixty days take at least three steps');
  clock.advance(1);
  assert.equal(fired, 1);
  clock.advance(365 * DAY);
  assert.equal(fired, 1, 'once');
  const t = setLongTimeout(() => fired++, clock.now() + DAY, clock);
  t.clear();
  clock.advance(2 * DAY);
  assert.equal(fired, 1, 'a cleared timer never fires');
  setLongTimeout(() => fired++, clock.now() - 5, clock);
  assert.equal(fired, 2, 'already due: at once');
});

test('a task with a 30-day countdown is held by the worker and runs when the (fake) clock reaches its ETA', async (t) => {
  const hub = new MemoryTransports();
  const app = new App('eta', { broker: 'memory://', backend: 'memory://', memory: hub, include: [new URL('../fixtures/queue/tasks.js', import.meta.url)] });
  const clock = new FakeClock(Date.now());
  const worker = new Worker(app, { pool: 'async', concurrency: 1, clock });
  await worker.start();
  t.after(async () => {
    await worker.stop({ warm: false });
    await hub.close();
  });
  const r = await app.sendTask('test.echo', ['a month later'], {}, { countdown: 30 * 86_400 });
  await new Promise((res) => setTimeout(res, 100));
  assert.equal(await r.refresh(), 'PENDING', 'held, not run');
  clock.advance(30 * DAY - 60_000);
  await new Promise((res) => setTimeout(res, 50));
  assert.equal(await r.refresh(), 'PENDING', 'a minute before its ETA it still waits');
  clock.advance(120_000);
  assert.equal(await r.get({ timeout: 5 }), 'a month later');
});

test('on the real clock a 30-day countdown is not run early, and Node never warns of a timeout overflow', async (t) => {
  const warnings: string[] = [];
  const onWarning = (w: Error): void => void warnings.push(w.name);
  process.on('warning', onWarning);
  const hub = new MemoryTransports();
  const app = new App('eta-real', { broker: 'memory://', backend: 'memory://', memory: hub, include: [new URL('../fixtures/queue/tasks.js', import.meta.url)] });
  const worker = new Worker(app, { pool: 'async', concurrency: 1 });
  await worker.start();
  t.after(async () => {
    process.off('warning', onWarning);
    await worker.stop({ warm: false });
    await hub.close();
  });
  const r = await app.sendTask('test.echo', ['not yet'], {}, { countdown: 30 * 86_400 });
  const quick = await app.sendTask('test.echo', ['now'], {});
  assert.equal(await quick.get({ timeout: 5 }), 'now', 'the worker serves other tasks meanwhile');
  await new Promise((res) => setTimeout(res, 2000));
  assert.equal(await r.refresh(), 'PENDING');
  assert.deepEqual(warnings.filter((w) => w === 'TimeoutOverflowWarning'), []);
});
