import test from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_BACKOFF, backoffDelay, backoffPolicy } from '../lab/backoff.js';

test('the default policy: 100 ms doubling, capped at 5 s', () => {
  assert.deepEqual({ ...DEFAULT_BACKOFF }, { baseMs: 100, capMs: 5_000 });
  assert.deepEqual({ ...backoffPolicy({ capMs: 200 }) }, { baseMs: 100, capMs: 200 });
  assert.ok(Object.isFrozen(DEFAULT_BACKOFF) && Object.isFrozen(backoffPolicy()));
});

test('equal jitter: each delay lies in [exp / 2, exp], exp = min(cap, base × 2^attempt)', () => {
  const policy = backoffPolicy({ baseMs: 20, capMs: 200 });
  for (let attempt = 0; attempt < 12; attempt++) {
    const exp = Math.min(200, 20 * 2 ** attempt);
    assert.equal(backoffDelay(attempt, policy, () => 0), exp / 2, `attempt ${attempt}, no jitter`);
    assert.ok(Math.abs(backoffDelay(attempt, policy, () => 1) - exp) < 1e-9, `attempt ${attempt}, full jitter`);
    for (let i = 0; i < 50; i++) {
      const d = backoffDelay(attempt, policy);
      assert.ok(d >= exp / 2 && d <= exp, `attempt ${attempt}: ${d} outside [${exp / 2}, ${exp}]`);
    }
  }
});

test('never above the cap, whatever the attempt number (no overflow to Infinity or NaN)', () => {
  for (const attempt of [30, 1_000, Number.MAX_SAFE_INTEGER]) {
    const d = backoffDelay(attempt, DEFAULT_BACKOFF, () => 1);
    assert.ok(Number.isFinite(d) && d <= DEFAULT_BACKOFF.capMs, `attempt ${attempt}: ${d}`);
  }
  assert.equal(backoffDelay(-1, DEFAULT_BACKOFF, () => 0), 50, 'a negative attempt counts as the first');
});
