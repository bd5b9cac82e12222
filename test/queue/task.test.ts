/** Tasks bind Celery's (args, kwargs) as Python would, and refuse extra positional arguments as Python's worker does. */
import test from 'node:test';
import assert from 'node:assert/strict';
import { App } from '../../lab/queue/index.js';
import { countParameters } from '../../lab/queue/task.js';

test('a function source says how many positional arguments it takes (defaults count, a rest parameter takes any)', () => {
  const cases: [string, number | null][] = [
    ['(a, b) => a', 2],
    ["(a, b = ')', { c, d } = {}) => a", 3],
    ['(...rest) => rest', null],
    ['(a, ...rest) => a', null],
    ['x => x', 1],
    ['async x => x', 1],
    ['async (a, b) => a', 2],
    ['function f(a, [b, c], d = [1, (2)]) { return a; }', 3],
    ['() => 1', 0],
    ['async function g() {}', 0],
    ['function () { [native code] }', null],
  ];
  for (const [src, n] of cases) assert.equal(countParameters(src), n, src);
});

test('bindArguments: extra positionals are a TypeError with Python’s words; kwargs land by name', () => {
  const app = new App('t');
  const sort = app.task('mergesort.sort', (xs: number[]) => xs);
  assert.throws(() => sort.bindArguments([[1], [2], 3], {}), (e: unknown) => e instanceof TypeError && e.message === 'mergesort.sort() takes 1 positional argument but 3 were given');
  const add = app.task('t.add', (a: number, b = 1) => a + b);
  assert.deepEqual(add.bindArguments([1, 2], {}), [1, 2]);
  assert.throws(() => add.bindArguments([1, 2, 3], {}), /takes 2 positional arguments but 3 were given/);
  const rate = app.task('currency.get_rate', (pair: string, url?: string) => [pair, url], { params: ['pair', 'url_tmplt'] });
  assert.deepEqual(rate.bindArguments(['EURUSD'], { url_tmplt: 'u' }), ['EURUSD', 'u']);
  assert.throws(() => rate.bindArguments(['EURUSD', 'u', 'x'], {}), /takes 2 positional arguments but 3 were given/);
  const any = app.task('t.any', (...xs: unknown[]) => xs.length);
  assert.deepEqual(any.bindArguments([1, 2, 3, 4], {}), [1, 2, 3, 4]);
});
