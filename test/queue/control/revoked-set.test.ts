import test from 'node:test';
import assert from 'node:assert/strict';
import { RevokedSet } from '../../../lab/queue/control/revoked-set.js';

test('revoked ids are remembered until they expire, the oldest dropped past the limit', () => {
  let now = 1_000_000;
  const s = new RevokedSet(3, 60_000, () => now);
  s.add('a');
  s.add('b');
  assert.equal(s.has('a'), true);
  assert.equal(s.has('zzz'), false);
  now += 30_000;
  s.add('c');
  s.add('d');
  assert.deepEqual(s.ids(), ['b', 'c', 'd'], 'at most 3: the oldest went');
  now += 31_000;
  assert.equal(s.has('b'), false, 'expired after 60 s');
  assert.equal(s.has('c'), true);
  assert.deepEqual(Object.keys(s.asData()), ['c', 'd']);
  assert.equal(s.asData().c, (now - 31_000) / 1000, 'mingle data: epoch seconds');
});
