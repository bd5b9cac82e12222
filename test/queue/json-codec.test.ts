import test from 'node:test';
import assert from 'node:assert/strict';
import { decodeJson, encodeJson } from '../../lab/queue/json-codec.js';

test('plain JSON decodes with JSON.parse semantics', () => {
  assert.deepEqual(decodeJson('[1, "a", {"b": null}]'), [1, 'a', { b: null }]);
});

test("Python's NaN and Infinity tokens decode to numbers", () => {
  const v = decodeJson('[NaN, Infinity, -Infinity, {"x": NaN}]') as [number, number, number, { x: number }];
  assert.ok(Number.isNaN(v[0]));
  assert.equal(v[1], Infinity);
  assert.equal(v[2], -Infinity);
  assert.ok(Number.isNaN(v[3].x));
});

test('NaN inside strings is left alone', () => {
  assert.deepEqual((decodeJson('["NaN", "Infinity \\" NaN", NaN]') as unknown[]).slice(0, 2), ['NaN', 'Infinity " NaN']);
});

test('invalid JSON still throws', () => {
  assert.throws(() => decodeJson('{nope'), SyntaxError);
  assert.throws(() => decodeJson('[NaNa]'), SyntaxError);
});

test('encoding is strict JSON: non-finite numbers become null, undefined becomes null', () => {
  assert.equal(encodeJson([NaN, Infinity, 1]), '[null,null,1]');
  assert.equal(encodeJson(undefined), 'null');
});
