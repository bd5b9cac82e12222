import test from 'node:test';
import assert from 'node:assert/strict';
import { merge, mergeSort } from '../../scenarios/mergesort/merge-sort.js';
import { mergeAll, mergesortScenario, shuffledRange, split } from '../../scenarios/mergesort/mergesort.js';

test('mergeSort sorts, including edge cases', () => {
  for (const xs of [[], [1], [2, 1], [3, 3, 1, 1], [5, -1, 0, 2.5, -7], Array.from({ length: 1000 }, (_, i) => (i * 7919) % 1000)]) {
    assert.deepEqual(mergeSort(xs), [...xs].sort((a, b) => a - b));
  }
  const input = [3, 1, 2];
  mergeSort(input);
  assert.deepEqual(input, [3, 1, 2], 'the input is not modified');
});

test("the book's split: n chunks of len//n, the last takes the rest", () => {
  assert.deepEqual(split([1, 2, 3, 4, 5, 6, 7], 3), [[1, 2], [3, 4], [5, 6, 7]]);
  assert.deepEqual(split([1], 1), [[1]]);
});

test('merge and mergeAll combine sorted partials', () => {
  assert.deepEqual(merge([1, 4], [2, 3, 5]), [1, 2, 3, 4, 5]);
  assert.deepEqual(mergeAll([[1, 5], [2], [0, 3], [4]]), [0, 1, 2, 3, 4, 5]);
  assert.deepEqual(mergeAll([]), []);
});

test('the shuffle is a reproducible permutation', () => {
  const a = shuffledRange(1000, 7);
  assert.deepEqual(a, shuffledRange(1000, 7));
  assert.notDeepEqual(a, shuffledRange(1000, 8));
  assert.deepEqual([...a].sort((x, y) => x - y), Array.from({ length: 1000 }, (_, i) => i));
});

test('verify accepts a sorted result and rejects a wrong one, saying where', () => {
  const params = { n: 2, size: 50, seed: 3 };
  const fixture = mergesortScenario.prepare(params) as Awaited<ReturnType<typeof mergesortScenario.prepare>>;
  const good = mergeSort((fixture as { sequence: number[] }).sequence);
  assert.equal(mergesortScenario.verify(params, fixture, good, 'local').ok, true);
  const bad = [...good];
  [bad[10], bad[11]] = [bad[11], bad[10]];
  const v = mergesortScenario.verify(params, fixture, bad, 'distributed');
  assert.equal(v.ok, false);
  assert.match(v.detail, /index 10/);
  assert.equal(mergesortScenario.verify(params, fixture, good.slice(1), 'x').ok, false);
});

test('more chunks than items is refused', () => {
  assert.throws(() => mergesortScenario.prepare({ n: 10, size: 5, seed: 1 }), /--n 10 is more chunks than --size 5/);
});
