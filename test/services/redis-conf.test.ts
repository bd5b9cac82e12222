/** Unit: what the lab's redis.conf says about persistence (issue 12: results survive a Redis restart). */
import assert from 'node:assert/strict';
import { test } from 'node:test';

test('redis.conf: an append-only file fsync\'d every second by default, nothing on disk when persistence is off', async () => {
  const { persistenceConf } = await import('../../lab/services/redis.js');
  assert.deepEqual(persistenceConf(true), ['save ""', 'appendonly yes', 'appendfsync everysec']);
  assert.deepEqual(persistenceConf(false), ['save ""', 'appendonly no']);
});

test('redis.conf: set-proc-title no from Redis 6.2 on (its title would overwrite the environment holding the lab token); none before or unknown', async () => {
  const { procTitleConf } = await import('../../lab/services/redis.js');
  for (const v of ['6.2.0', '6.2.14', '7.0.15', '10.0.1']) assert.deepEqual(procTitleConf(v), ['set-proc-title no'], v);
  for (const v of ['6.0.16', '5.0.14', '6.1.9', undefined, 'fake']) assert.deepEqual(procTitleConf(v), [], String(v));
});
