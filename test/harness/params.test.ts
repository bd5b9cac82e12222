import test from 'node:test';
import assert from 'node:assert/strict';
import { UsageError } from '../../lab/errors.js';
import { parseParams } from '../../lab/harness/params.js';
import { mergesortScenario } from '../../scenarios/mergesort/mergesort.js';
import { currencyScenario } from '../../scenarios/currency/currency.js';

const ms = mergesortScenario.params;

test('defaults fill what is not given', () => {
  const p = parseParams(ms, {});
  assert.deepEqual(p.points, [{ n: 4, size: 1_000_000, seed: 1 }]);
});

test('comma lists sweep every combination, in order', () => {
  const p = parseParams(ms, { n: '1,2', size: '10,20' });
  assert.deepEqual(
    p.points.map((x) => [x.n, x.size]),
    [
      [1, 10],
      [1, 20],
      [2, 10],
      [2, 20],
    ],
  );
  assert.deepEqual(p.given.n, [1, 2]);
});

test('bad values name the flag and the value', () => {
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ n: '0' }, /--n: expected an integer ≥ 1 and ≤ 10000, got 0/],
    [{ n: '-3' }, /--n: expected an integer/],
    [{ size: 'abc' }, /--size: expected an integer ≥ 1 and ≤ 50000000, got "abc"/],
    [{ size: '1.5' }, /--size: expected an integer/],
    [{ n: '1,,2' }, /--n: empty value/],
    [{ n: '2,2' }, /repeats a value/],
    [{ seed: '1,2' }, /--seed takes one value/],
    [{ n: ['1', '2'] }, /--n was given 2 times/],
  ];
  for (const [raw, re] of bad) assert.throws(() => parseParams(ms, raw), (e: unknown) => e instanceof UsageError && e.exitCode === 2 && re.test(e.message), JSON.stringify(raw));
});

test('underscores are allowed in numbers', () => {
  assert.equal(parseParams(ms, { size: '1_000' }).points[0].size, 1000);
});

test('currency pairs must be six letters', () => {
  assert.deepEqual(parseParams(currencyScenario.params, { pairs: ['EURUSD', 'GBPUSD'] }).points[0].pairs, ['EURUSD', 'GBPUSD']);
  assert.throws(() => parseParams(currencyScenario.params, { pairs: ['EURUS'] }), /PAIRS: "EURUS" is not six capital letters, like EURUSD/);
  assert.throws(() => parseParams(currencyScenario.params, { pairs: ['eurusd'] }), UsageError);
});
