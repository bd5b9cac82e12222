import test from 'node:test';
import assert from 'node:assert/strict';
import { merge, mergeSort } from '../../scenarios/mergesort/merge-sort.js';
import { mergeAll, mergesortScenario, shuffledRange, split } from '../../scenarios/mergesort/mergesort.js';
import { SortThreads } from '../../scenarios/mergesort/parallel.js';
import { toNumbers } from '../../scenarios/mergesort/number-array.js';

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

test('toNumbers turns a Float64Array back into a plain array of the same numbers', () => {
  const out = toNumbers(Float64Array.from([3, -1, 2.5, 0]));
  assert.ok(Array.isArray(out));
  assert.deepEqual(out, [3, -1, 2.5, 0]);
  assert.deepEqual(toNumbers(new Float64Array(0)), []);
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

test('the parallel mode sorts the chunks on worker threads: verified, with the phases of the critical path', async () => {
  const params = { n: 3, size: 30_000, seed: 5 };
  const fixture = mergesortScenario.prepare(params) as Awaited<ReturnType<typeof mergesortScenario.prepare>>;
  const ctx = { signal: new AbortController().signal, timeoutS: 10, env: undefined as unknown } as Parameters<typeof mergesortScenario.run>[3];
  ctx.env = await mergesortScenario.setUp!(params, fixture, ctx);
  try {
    assert.ok(ctx.env instanceof SortThreads);
    assert.equal((ctx.env as SortThreads).threads, SortThreads.size(3));
    for (let i = 0; i < 2; i++) {
      const r = await mergesortScenario.run('parallel', params, fixture, ctx);
      assert.equal(mergesortScenario.verify(params, fixture, r.output, 'parallel').ok, true);
      assert.deepEqual(Object.keys(r.phases), ['split', 'dispatch', 'queue wait', 'compute', 'result transfer', 'merge']);
      assert.ok(r.phases.compute! > 0, 'a thread spent time sorting');
    }
  } finally {
    await mergesortScenario.tearDown!(params, fixture, ctx);
  }
  // Without setUp (a benchmark calling run directly) the mode starts threads of its own and stops them.
  const alone = await mergesortScenario.run('parallel', params, fixture, { ...ctx, env: undefined });
  assert.equal(mergesortScenario.verify(params, fixture, alone.output, 'parallel').ok, true);
  assert.deepEqual(mergesortScenario.modes, ['local', 'parallel', 'distributed']);
});

test('SortThreads queues chunks beyond its threads and refuses work once closed', async () => {
  const pool = await SortThreads.start(1);
  try {
    const out = await Promise.all([[3, 1, 2], [9, 8], [5]].map((c) => pool.sort(c)));
    assert.deepEqual(out.map((o) => o.sorted), [[1, 2, 3], [8, 9], [5]]);
    for (const o of out) assert.ok(o.started <= o.finished && o.finished <= o.arrived + 1);
  } finally {
    await pool.close();
  }
  await assert.rejects(pool.sort([1]), /closed/);
});
