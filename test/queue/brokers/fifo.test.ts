import test from 'node:test';
import assert from 'node:assert/strict';
import { Fifo } from '../../../lab/queue/brokers/fifo.js';

test('fifo: first in, first out; unshift puts an item back at the front', () => {
  const q = new Fifo<number>();
  assert.equal(q.shift(), undefined);
  for (const n of [1, 2, 3]) q.push(n);
  assert.equal(q.size, 3);
  assert.equal(q.shift(), 1);
  q.unshift(1);
  q.unshift(0);
  assert.deepEqual(q.toArray(), [0, 1, 2, 3]);
  assert.deepEqual([q.shift(), q.shift(), q.shift(), q.shift(), q.shift()], [0, 1, 2, 3, undefined]);
  assert.equal(q.size, 0);
});

test('fifo: order and size hold across compaction of a long consumed prefix', () => {
  const q = new Fifo<number>();
  const n = 10_000;
  for (let i = 0; i < n; i++) q.push(i);
  for (let i = 0; i < 6_000; i++) assert.equal(q.shift(), i);
  assert.equal(q.size, n - 6_000);
  q.unshift(5_999);
  q.push(n);
  const rest = q.toArray();
  assert.equal(rest.length, n - 6_000 + 2);
  assert.deepEqual([rest[0], rest[1], rest.at(-1)], [5_999, 6_000, n]);
});

test('fifo: 200k pushes and shifts run in linear time', () => {
  const q = new Fifo<number>();
  const t0 = performance.now();
  for (let i = 0; i < 200_000; i++) q.push(i);
  let sum = 0;
  for (let x = q.shift(); x !== undefined; x = q.shift()) sum += x;
  assert.equal(sum, (199_999 * 200_000) / 2);
  assert.ok(performance.now() - t0 < 1_000, 'an O(n) shift would take far longer');
});

test('fifo: retain keeps the items that pass, in order; clear returns everything', () => {
  const q = new Fifo<number>();
  for (let i = 0; i < 10; i++) q.push(i);
  q.shift();
  q.retain((x) => x % 2 === 0);
  assert.deepEqual(q.toArray(), [2, 4, 6, 8]);
  q.push(10);
  assert.deepEqual(q.clear(), [2, 4, 6, 8, 10]);
  assert.equal(q.size, 0);
  assert.deepEqual(q.toArray(), []);
});
