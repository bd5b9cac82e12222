/**
 * The link proxy's shaping, on a fake clock: which rules act on which direction of a connection (as netem on the
 * slowed host would), delay without reordering — also when a fault ends with bytes still on their way —, a rate
 * as a link that sends one piece at a time, zero added delay without a rule, and rule files read strictly.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NO_SHAPE, ShapedPipe, parseRule, shapeFor } from '../../lab/services/link-shaping.js';
import type { Clock, Shape, ShapingRule } from '../../lab/services/link-shaping.js';

/** A clock the test moves: timers fire in time order as `advance` passes them. */
class FakeClock implements Clock {
  t = 0;
  timers: { at: number; fn: () => void; live: boolean }[] = [];
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): { cancel(): void } {
    const timer = { at: this.t + ms, fn, live: true };
    this.timers.push(timer);
    return { cancel: () => void (timer.live = false) };
  }
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const next = this.timers.filter((x) => x.live && x.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!next) break;
      next.live = false;
      this.t = next.at;
      next.fn();
    }
    this.t = end;
  }
}

const HOST1 = '198.19.0.11';
const HOST3 = '198.19.0.13';
const rule = (id: string, address: string, delayMs: number, rateBytesPerS?: number): ShapingRule => ({ id, address, delayMs, ...(rateBytesPerS !== undefined ? { rateBytesPerS } : {}) });

test("a rule shapes what its host sends: a peer's bytes in, the service host's bytes out; loopback never", () => {
  const rules = [rule('a', HOST3, 100)];
  // proxy on HOST1, connection from HOST3
  assert.deepEqual(shapeFor(rules, HOST1, HOST3, 'in'), { delayMs: 100 });
  assert.deepEqual(shapeFor(rules, HOST1, HOST3, 'out'), NO_SHAPE);
  // slow HOST1 (the service host): what it sends back to every peer
  const own = [rule('b', HOST1, 30, 1000)];
  assert.deepEqual(shapeFor(own, HOST1, HOST3, 'out'), { delayMs: 30, rateBytesPerS: 1000 });
  assert.deepEqual(shapeFor(own, HOST1, HOST3, 'in'), NO_SHAPE);
  assert.deepEqual(shapeFor(own, HOST1, HOST1, 'out'), NO_SHAPE, 'a host talking to itself crosses no link');
  // two faults on one host add up; the lower rate wins
  assert.deepEqual(shapeFor([rule('a', HOST3, 20, 5000), rule('b', HOST3, 30, 2000)], HOST1, HOST3, 'in'), { delayMs: 50, rateBytesPerS: 2000 });
  assert.deepEqual(shapeFor([], HOST1, HOST3, 'in'), NO_SHAPE);
});

test('no rule: written at once; a delay: each chunk delayMs later, in order', () => {
  const clock = new FakeClock();
  const got: [number, string][] = [];
  let shape: Shape = NO_SHAPE;
  const pipe = new ShapedPipe((d) => got.push([clock.now(), d.toString()]), () => shape, clock);
  pipe.push(Buffer.from('a'));
  assert.deepEqual(got, [[0, 'a']], 'zero added delay outside a fault');
  shape = { delayMs: 100 };
  pipe.push(Buffer.from('b'));
  clock.advance(10);
  pipe.push(Buffer.from('c'));
  assert.equal(pipe.queuedBytes, 2);
  clock.advance(89);
  assert.deepEqual(got, [[0, 'a']]);
  clock.advance(1);
  assert.deepEqual(got, [[0, 'a'], [100, 'b']]);
  clock.advance(10);
  assert.deepEqual(got, [[0, 'a'], [100, 'b'], [110, 'c']]);
  assert.equal(pipe.queuedBytes, 0);
});

test('a fault that ends with bytes on their way: later bytes never overtake them', () => {
  const clock = new FakeClock();
  const got: [number, string][] = [];
  let shape: Shape = { delayMs: 100 };
  const pipe = new ShapedPipe((d) => got.push([clock.now(), d.toString()]), () => shape, clock);
  pipe.push(Buffer.from('slow'));
  clock.advance(20);
  shape = NO_SHAPE; // healed
  pipe.push(Buffer.from('fast'));
  clock.advance(79);
  assert.deepEqual(got, []);
  clock.advance(1);
  assert.deepEqual(got, [[100, 'slow'], [100, 'fast']]);
  pipe.push(Buffer.from('now'));
  assert.deepEqual(got.at(-1), [100, 'now'], 'once drained, straight through again');
});

test('a rate: the link sends a piece at a time (bytes / rate each), then the delay; the end of a half-close waits for the last byte', async () => {
  const clock = new FakeClock();
  const got: [number, number][] = [];
  const pipe = new ShapedPipe((d) => got.push([clock.now(), d.length]), () => ({ delayMs: 10, rateBytesPerS: 50_000 }), clock);
  // 50 kB/s: pieces of 1000 bytes (20 ms of sending each)
  pipe.push(Buffer.alloc(3000));
  let flushed = false;
  const done = pipe.flushed().then(() => (flushed = true));
  clock.advance(29);
  assert.deepEqual(got, []);
  clock.advance(1);
  assert.deepEqual(got, [[30, 1000]]);
  clock.advance(40);
  assert.deepEqual(got, [[30, 1000], [50, 1000], [70, 1000]]);
  await done;
  assert.equal(flushed, true);
  // 3000 bytes at 50 kB/s = 60 ms of sending, + 10 ms delay: the average rate holds
  pipe.push(Buffer.alloc(1000));
  clock.advance(30);
  assert.deepEqual(got.at(-1), [100, 1000]);
});

test('closed: what was queued is dropped and never written', () => {
  const clock = new FakeClock();
  const got: number[] = [];
  const pipe = new ShapedPipe((d) => got.push(d.length), () => ({ delayMs: 50 }), clock);
  pipe.push(Buffer.alloc(10));
  pipe.close();
  clock.advance(100);
  pipe.push(Buffer.alloc(10));
  assert.deepEqual(got, []);
  assert.equal(pipe.queuedBytes, 0);
});

test('rule files are read strictly: a half-written or foreign file is no rule', () => {
  assert.deepEqual(parseRule('{"id":"f1","address":"198.19.0.13","delayMs":20}'), rule('f1', HOST3, 20));
  assert.deepEqual(parseRule('{"id":"f1","address":"198.19.0.13","delayMs":20,"rateBytesPerS":1000}\n'), rule('f1', HOST3, 20, 1000));
  for (const bad of ['', '{"id":"f1","address":"198.19', '{"id":"f1","address":"x","delayMs":-1}', '{"id":1,"address":"x","delayMs":1}', '{"id":"f","address":"x","delayMs":1,"rateBytesPerS":0}', 'null']) {
    assert.equal(parseRule(bad), null, bad);
  }
});
