import test from 'node:test';
import assert from 'node:assert/strict';
import { UrlError } from '../../../lab/queue/errors.js';
import { parseRedisUrl } from '../../../lab/queue/backends/redis-url.js';

test('redis url: host, port, database and TLS, with the defaults Celery uses', () => {
  assert.deepEqual(parseRedisUrl('redis://HOST2'), { host: 'HOST2', port: 6379, username: undefined, password: undefined, db: 0, tls: false, socketTimeoutMs: undefined, connectTimeoutMs: undefined });
  const t = parseRedisUrl('rediss://10.0.0.2:6380/3');
  assert.deepEqual([t.host, t.port, t.db, t.tls], ['10.0.0.2', 6380, 3, true]);
  assert.equal(parseRedisUrl('redis://h/?db=5').db, 5, 'the database as ?db=');
  assert.equal(parseRedisUrl('redis://h/2?db=5').db, 2, 'the path wins over ?db=');
  assert.equal(parseRedisUrl('redis://[::1]:7000/0').host, '::1', 'an IPv6 literal loses its brackets');
  assert.equal(parseRedisUrl('REDIS://h').tls, false, 'the scheme in any case');
});

test('redis url: credentials are decoded; a password alone is the classic AUTH', () => {
  const a = parseRedisUrl('redis://:s%40cret@h:6379/0');
  assert.deepEqual([a.username, a.password], [undefined, 's@cret']);
  const b = parseRedisUrl('redis://lab:p%2Fw@h/0');
  assert.deepEqual([b.username, b.password], ['lab', 'p/w']);
});

test("redis url: Celery's socket_timeout / socket_connect_timeout in seconds", () => {
  const t = parseRedisUrl('redis://h/0?socket_timeout=2.5&socket_connect_timeout=0.25');
  assert.deepEqual([t.socketTimeoutMs, t.connectTimeoutMs], [2500, 250]);
  assert.equal(parseRedisUrl('redis://h/0?socket_timeout=').socketTimeoutMs, undefined);
});

test('redis url: mistakes are UrlErrors (exit 2) that never show the password', () => {
  const cases: [string, RegExp][] = [
    ['amqp://u:secret@h/0', /not a Redis URL: .*expected redis:\/\/ or rediss:\/\//],
    ['redis://u:secret@h:notaport/0', /not a Redis URL/],
    ['redis://u:secret@h/-1', /bad Redis database number "-1"/],
    ['redis://u:secret@h/one', /bad Redis database number "one"/],
    ['redis://u:secret@h/0?socket_timeout=0', /bad socket_timeout="0" .*expected seconds > 0/],
    ['redis://u:secret@h/0?socket_connect_timeout=soon', /bad socket_connect_timeout="soon"/],
  ];
  for (const [url, pattern] of cases) {
    assert.throws(
      () => parseRedisUrl(url),
      (e: unknown) => e instanceof UrlError && e.code === 'E_URL' && e.exitCode === 2 && pattern.test(e.message) && !e.message.includes('secret'),
      url,
    );
  }
});
