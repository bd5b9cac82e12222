/** Header tables both AMQP clients read alike: amqplib (lab) and py-amqp (Celery). */
import test from 'node:test';
import assert from 'node:assert/strict';
import { decodeTable } from '../../../lab/queue/brokers/amqp-codec.js';
import { pyAmqpHeaders } from '../../../lab/queue/brokers/amqp-headers.js';

test("integers py-amqp would misread are typed 'I' / 'l'; bytes 0..127, floats, strings stay as they are", () => {
  const h = { small: 5, mid: 1000, neg: -1, big: 2 ** 40, f: 1.5, s: 'x', n: null, timelimit: [300, null], nested: { group_index: 200 } };
  assert.deepEqual(pyAmqpHeaders(h), {
    small: 5,
    mid: { '!': 'int', value: 1000 },
    neg: { '!': 'int', value: -1 },
    big: { '!': 'long', value: 2 ** 40 },
    f: 1.5,
    s: 'x',
    n: null,
    timelimit: [{ '!': 'int', value: 300 }, null],
    nested: { group_index: { '!': 'int', value: 200 } },
  });
  const plain = { id: 'a', retries: 0, timelimit: [null, null] };
  assert.equal(pyAmqpHeaders(plain), plain, 'nothing to retype: the same object, no copy');
});

test("py-amqp's 'L' (int64) and 'U' (int16) decode; the rest as amqplib does", () => {
  const key = (k: string): Buffer => Buffer.concat([Buffer.from([k.length]), Buffer.from(k)]);
  const L = Buffer.alloc(9);
  L.write('L', 0);
  L.writeBigInt64BE(2n ** 40n, 1);
  const U = Buffer.alloc(3);
  U.write('U', 0);
  U.writeInt16BE(-300, 1);
  const S = Buffer.concat([Buffer.from('S'), Buffer.from([0, 0, 0, 2]), Buffer.from('hi')]);
  const table = Buffer.concat([key('big'), L, key('u'), U, key('s'), S]);
  assert.deepEqual(decodeTable(table), { big: 2 ** 40, u: -300, s: 'hi' });
});
