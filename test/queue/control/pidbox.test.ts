import test from 'node:test';
import assert from 'node:assert/strict';
import { addressedTo, expired, nodeQueue, parseRequest, PidboxMessageError } from '../../../lab/queue/control/pidbox.js';
import type { PidboxRequest } from '../../../lab/queue/control/pidbox.js';

const body = (v: unknown): Buffer => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));
const req = (over: Partial<PidboxRequest>): PidboxRequest => ({ method: 'ping', arguments: {}, destination: null, pattern: null, matcher: null, ...over });

test('a Python request is read with its ticket and reply_to', () => {
  const r = parseRequest(body({ method: 'ping', arguments: {}, destination: null, pattern: null, matcher: null, ticket: 't1', reply_to: { exchange: 'reply.celery.pidbox', routing_key: 'oid' } }), 'application/json');
  assert.deepEqual(r, { method: 'ping', arguments: {}, destination: null, pattern: null, matcher: null, ticket: 't1', reply_to: { exchange: 'reply.celery.pidbox', routing_key: 'oid' } });
});

test('malformed requests are PidboxMessageErrors naming what is wrong', () => {
  const cases: [Buffer, string, RegExp][] = [
    [body('{not json'), 'application/json', /not JSON/],
    [body([1, 2]), 'application/json', /not a JSON object/],
    [body({ arguments: {} }), 'application/json', /no method/],
    [body({ method: 'ping', arguments: [1] }), 'application/json', /arguments is not an object/],
    [body({ method: 'ping', destination: 'celery@a' }), 'application/json', /destination is not a list/],
    [body({ method: 'ping', reply_to: 'x' }), 'application/json', /reply_to/],
    [body({ method: 'ping' }), 'application/x-python-serialize', /content type/],
  ];
  for (const [b, ct, why] of cases) assert.throws(() => parseRequest(b, ct), (err: unknown) => err instanceof PidboxMessageError && why.test(err.message));
});

test('destination filtering as kombu does it: list, glob, pcre, or everyone', () => {
  assert.equal(addressedTo(req({}), 'celery@a'), true);
  assert.equal(addressedTo(req({ destination: ['celery@a', 'celery@b'] }), 'celery@b'), true);
  assert.equal(addressedTo(req({ destination: ['celery@a'] }), 'celery@b'), false);
  assert.equal(addressedTo(req({ pattern: 'celery@*', matcher: 'glob' }), 'celery@HOST3'), true);
  assert.equal(addressedTo(req({ pattern: 'py-*', matcher: 'glob' }), 'celery@HOST3'), false);
  assert.equal(addressedTo(req({ pattern: 'celery@HOST[0-9]', matcher: 'pcre' }), 'celery@HOST3'), true);
  assert.equal(addressedTo(req({ pattern: 'HOST', matcher: 'pcre' }), 'celery@HOST3'), false, 're.match anchors at the start');
  assert.equal(addressedTo(req({ pattern: '(', matcher: 'pcre' }), 'celery@HOST3'), false, 'a bad pattern matches nothing');
});

test('expires: epoch seconds, 0 = never', () => {
  assert.equal(expired({ expires: 0 }, 5_000_000), false);
  assert.equal(expired({}, 5_000_000), false);
  assert.equal(expired({ expires: 4_000 }, 5_000_000), true);
  assert.equal(expired({ expires: 6_000 }, 5_000_000), false);
});

test("a worker's queue is kombu's: <hostname>.celery.pidbox, auto-delete, expiring, bound to the fanout", () => {
  assert.deepEqual(nodeQueue('celery@HOST3'), {
    name: 'celery@HOST3.celery.pidbox',
    exchange: 'celery.pidbox',
    exchangeType: 'fanout',
    exchangeDurable: false,
    routingKey: '',
    durable: false,
    autoDelete: true,
    expiresMs: 10_000,
    messageTtlMs: 300_000,
  });
});
