/** Unit: what the lab's redis.conf says about persistence (issue 12: results survive a Redis restart). */
import assert from 'node:assert/strict';
import { test } from 'node:test';

test('redis.conf: an append-only file fsync\'d every second by default, nothing on disk when persistence is off', async () => {
  const { persistenceConf } = await import('../../lab/services/redis.js');
  assert.deepEqual(persistenceConf(true), ['save ""', 'appendonly yes', 'appendfsync everysec']);
  assert.deepEqual(persistenceConf(false), ['save ""', 'appendonly no']);
});
