import test from 'node:test';
import assert from 'node:assert/strict';
import { utf8Text } from '../../lab/queue/utf8-text.js';
import { decodeBody } from '../../lab/queue/protocol.js';

test('ASCII bytes read as the same text, from a Buffer or a plain Uint8Array view into a larger buffer', () => {
  const text = `[[${Array.from({ length: 1000 }, (_, i) => i).join(',')}],{},{}]`;
  assert.equal(utf8Text(Buffer.from(text)), text);
  const backing = new Uint8Array(text.length + 8);
  backing.set(Buffer.from(text), 4);
  assert.equal(utf8Text(backing.subarray(4, 4 + text.length)), text);
  assert.equal(utf8Text(new Uint8Array(0)), '');
});

test('non-ASCII UTF-8 decodes as UTF-8, not as latin1', () => {
  const text = '["héllo", "€", "日本", "😀"]';
  assert.equal(utf8Text(Buffer.from(text)), text);
  assert.equal(utf8Text(Buffer.from(text), { fatal: true }), text);
});

test('malformed UTF-8: fatal throws, lenient replaces (as Buffer#toString)', () => {
  const bad = Buffer.from([0x5b, 0x22, 0xc3, 0x28, 0x22, 0x5d]); // ["\xc3(" ]
  assert.throws(() => utf8Text(bad, { fatal: true }), TypeError);
  assert.equal(utf8Text(bad), bad.toString('utf8'));
});

test('a task body that is not UTF-8 is still refused, an ASCII one decodes', () => {
  assert.throws(() => decodeBody(Buffer.from([0x5b, 0x5b, 0xff, 0x5d, 0x2c, 0x7b, 0x7d, 0x5d]), 'id-1'), /body is not valid UTF-8/);
  assert.deepEqual(decodeBody(Buffer.from('[[[3,1,2]],{},{}]'), 'id-2').args, [[3, 1, 2]]);
});
