import test from 'node:test';
import assert from 'node:assert/strict';
import { ProtocolError, buildTaskMessage, decodeBody, readHeaders } from '../../lab/queue/protocol.js';

test('a task message carries every protocol v2 header Celery 5.2 sends', () => {
  const m = buildTaskMessage('mergesort.sort', { args: [[3, 1, 2]], kwargs: { a: 1 } });
  const h = m.properties.headers;
  for (const key of ['lang', 'task', 'id', 'shadow', 'eta', 'expires', 'group', 'group_index', 'retries', 'timelimit', 'root_id', 'parent_id', 'argsrepr', 'kwargsrepr', 'origin', 'ignore_result']) {
    assert.ok(key in h, `header ${key} missing`);
  }
  assert.equal(h.task, 'mergesort.sort');
  assert.equal(h.root_id, h.id);
  assert.deepEqual(h.timelimit, [null, null]);
  assert.equal(m.properties.contentType, 'application/json');
  assert.equal(m.properties.contentEncoding, 'utf-8');
  assert.equal(m.properties.correlationId, h.id);
  assert.equal(m.properties.deliveryMode, 2);
  assert.deepEqual(JSON.parse(m.body.toString()), [[[3, 1, 2]], { a: 1 }, { callbacks: null, errbacks: null, chain: null, chord: null }]);
});

test('eta and expires are ISO-8601 with an explicit offset; expires also sets the AMQP expiration', () => {
  const eta = new Date('2026-11-27T12:00:00.000Z');
  const expires = new Date(Date.now() + 60_000);
  const m = buildTaskMessage('t', { eta, expires });
  // Six fraction digits: Celery 5.2's parse_iso8601 reads ".123" as 123 microseconds.
  assert.equal(m.properties.headers.eta, '2026-11-27T12:00:00.000000+00:00');
  assert.equal(buildTaskMessage('t', { eta: new Date('2026-11-27T12:00:00.123Z') }).properties.headers.eta, '2026-11-27T12:00:00.123000+00:00');
  assert.match(String(m.properties.headers.expires), /\+00:00$/);
  const ttl = Number(m.properties.expiration);
  assert.ok(ttl > 59_000 && ttl <= 60_000, `expiration ${m.properties.expiration}`);
});

test('headers are read leniently: only id and task are required', () => {
  const h = readHeaders({ id: 'abc', task: 'x.y' });
  assert.equal(h.retries, 0);
  assert.deepEqual(h.timeLimit, [null, null]);
  assert.equal(h.rootId, 'abc');
  assert.equal(h.eta, null);
  assert.throws(() => readHeaders({ task: 'x' }), ProtocolError);
  assert.throws(() => readHeaders({ id: 'abc' }), (e: unknown) => e instanceof ProtocolError && e.taskId === 'abc');
});

test("Python's isoformat (microseconds, offset) is read exactly", () => {
  const h = readHeaders({ id: 'a', task: 't', eta: '2026-11-27T13:20:00.123456+00:00', expires: '2026-11-27T15:20:00+02:00' });
  assert.equal(h.eta?.toISOString(), '2026-11-27T13:20:00.123Z');
  assert.equal(h.expires?.toISOString(), '2026-11-27T13:20:00.000Z');
  assert.throws(() => readHeaders({ id: 'a', task: 't', eta: 'tomorrow' }), /eta is not an ISO-8601 time/);
});

test('a naive time is UTC, as a Celery worker reads it (to_utc), whatever this machine’s zone', () => {
  const h = readHeaders({ id: 'a', task: 't', eta: '2026-11-27T13:20:00.5', expires: '2026-11-27 13:20:00' });
  assert.equal(h.eta?.toISOString(), '2026-11-27T13:20:00.500Z');
  assert.equal(h.expires?.toISOString(), '2026-11-27T13:20:00.000Z');
  assert.equal(readHeaders({ id: 'a', task: 't', eta: '2026-11-27T15:20:00-0130' }).eta?.toISOString(), '2026-11-27T16:50:00.000Z');
});

test('argsrepr/kwargsrepr are Python reprs, bounded like saferepr; reply_to is not the task id', () => {
  const h = buildTaskMessage('t', { args: ['a', 1, null, true], kwargs: { k: "it's" } });
  assert.equal(h.properties.headers.argsrepr, "('a', 1, None, True)");
  assert.equal(h.properties.headers.kwargsrepr, `{'k': "it's"}`);
  assert.equal(buildTaskMessage('t', { args: ['x'] }).properties.headers.argsrepr, "('x',)");
  const big = buildTaskMessage('t', { args: [Array.from({ length: 1_000_000 }, (_, i) => i)] }).properties.headers.argsrepr as string;
  assert.equal(big.length, 1024);
  assert.ok(big.startsWith('([0, 1, 2, ') && big.endsWith('...'));
  assert.notEqual(h.properties.replyTo, h.properties.correlationId);
});

test('a body must be [args, kwargs, embed]; errors say what is wrong', () => {
  assert.deepEqual(decodeBody(Buffer.from('[[1], {}, null]'), 'i').args, [1]);
  assert.throws(() => decodeBody(Buffer.from('{nope'), 'i'), /not valid JSON/);
  assert.throws(() => decodeBody(Buffer.from('{"a":1}'), 'i'), /not a \[args, kwargs, embed\] array/);
  assert.throws(() => decodeBody(Buffer.from('[1, {}]'), 'i'), /args is not an array/);
  assert.throws(() => decodeBody(Buffer.from('[[], []]'), 'i'), /kwargs is not an object/);
});

test('invalid UTF-8 in a body is refused, never silently replaced', () => {
  const bad = Buffer.concat([Buffer.from('[["caf'), Buffer.from([0xc3, 0x28]), Buffer.from('"], {}, null]')]);
  assert.throws(() => decodeBody(bad, 'i'), (e: unknown) => e instanceof ProtocolError && /not valid UTF-8/.test(e.message));
  assert.deepEqual(decodeBody(Buffer.from('[["café ☃ 😀"], {}, null]'), 'i').args, ['café ☃ 😀']);
});

test('a malformed embed (callbacks, errbacks, chain, chord) is refused naming the field, not dropped', () => {
  const body = (embed: unknown): Buffer => Buffer.from(JSON.stringify([[1], {}, embed]));
  assert.equal(decodeBody(body({ callbacks: null, chain: [], chord: null }), 'i').embed.chain?.length, 0);
  assert.deepEqual(decodeBody(body({ chain: [{ task: 'add', args: [1] }] }), 'i').embed.chain, [{ task: 'add', args: [1] }]);
  for (const [embed, field] of [
    [{ callbacks: 'add' }, 'callbacks'],
    [{ errbacks: [1] }, 'errbacks'],
    [{ chain: [{ args: [] }] }, 'chain'],
    [{ chord: 'body' }, 'chord'],
    [[1, 2], 'embed'],
  ] as const) {
    assert.throws(() => decodeBody(body(embed), 'i'), (e: unknown) => e instanceof ProtocolError && e.message.includes(field), JSON.stringify(embed));
  }
});
