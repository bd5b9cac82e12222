import test from 'node:test';
import assert from 'node:assert/strict';
import { EncodedResult, decodeJson, encodeJson, pythonJson } from '../../lab/queue/json-codec.js';

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

test("pythonJson spells values as Python's json.dumps: ', ' and ': ' separators, ASCII-only strings", () => {
  assert.equal(pythonJson({ a: [1, 'ü'], b: 1e-7, c: 'x"y' }), '{"a": [1, "\\u00fc"], "b": 1e-07, "c": "x\\"y"}');
  assert.equal(pythonJson([1, 'task-id', 'SUCCESS', null]), '[1, "task-id", "SUCCESS", null]');
  assert.equal(pythonJson({ big: 1e21, small: 2.5e-10, nan: NaN, inf: -Infinity, t: true, skip: undefined }), '{"big": 1e+21, "small": 2.5e-10, "nan": null, "inf": null, "t": true}');
  assert.equal(pythonJson([undefined, () => 1]), '[null, null]');
  assert.equal(pythonJson(new Date(0)), '"1970-01-01T00:00:00.000Z"');
});

test('pythonJson splices JSON encoded already (a pool child encoded the result) as it is', () => {
  assert.equal(pythonJson([1, 'id', 'SUCCESS', new EncodedResult('{"x":[1,2]}')]), '[1, "id", "SUCCESS", {"x":[1,2]}]');
});
