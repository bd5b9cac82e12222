/** Rate limits read as Celery's rate() reads them, bad ones refused with the field and the value; kombu's token bucket. */
import test from 'node:test';
import assert from 'node:assert/strict';
import { App } from '../../lab/queue/index.js';
import { applyConfig, defaultConfig } from '../../lab/queue/config.js';
import { parseRateLimit, rateLimitPerSecond } from '../../lab/queue/rate-limit.js';
import { TokenBucket } from '../../lab/queue/token-bucket.js';
import { ConfigError } from '../../lab/errors.js';

test('rate limits per second, as celery.utils.time.rate gives them (checked against Celery 5.2)', () => {
  const cases: [unknown, number][] = [
    ['5/s', 5],
    ['5', 5],
    ['5/', 5],
    ['0.5/m', 0.5 / 60],
    ['100/h', 100 / 3600],
    ['.5', 0.5],
    ['1e3/s', 1000],
    [' 5 /s', 5],
    ['+2/m', 2 / 60],
    ['0', 0],
    ['', 0],
    [null, 0],
    [undefined, 0],
    [0, 0],
    [7, 7],
    [2.5, 2.5],
  ];
  for (const [value, perSecond] of cases) assert.equal(rateLimitPerSecond(value), perSecond, JSON.stringify(value));
});

test('what Celery chokes on (KeyError, ValueError) or would feed to a bucket (negative, NaN, infinite) is not a rate', () => {
  for (const bad of ['abc', '5/x', '5/S', '5/s ', '5//s', '5/ s', '-1/s', 'inf', 'nan', '5/sec', 'five', -1, Number.NaN, Infinity, true, [5], {}]) {
    assert.equal(rateLimitPerSecond(bad), null, JSON.stringify(bad) ?? String(bad));
  }
  assert.throws(
    () => parseRateLimit('10/x', 'worker.rate'),
    (e: unknown) => e instanceof ConfigError && e.message === 'worker.rate: expected "N/s", "N/m", "N/h" or a number of tasks per second (0 or empty: no limit), got "10/x"',
  );
});

test('a task with a bad rateLimit is refused when it is registered, naming the task and the value', () => {
  const app = new App('rates');
  assert.throws(() => app.task('t.bad', () => 1, { rateLimit: '5 per second' }), (e: unknown) => e instanceof ConfigError && /^t\.bad: rateLimit: expected .*got "5 per second"$/.test(e.message));
  assert.equal(app.tasks.has('t.bad'), false);
  assert.equal(app.task('t.ok', () => 1, { rateLimit: '10/m' }).options.rateLimit, '10/m');
});

test('task_default_rate_limit and worker_disable_rate_limits in any of Celery’s spellings; a bad default names the setting', () => {
  const c = applyConfig(defaultConfig(), { CELERY_DEFAULT_RATE_LIMIT: '100/m', worker_disable_rate_limits: true });
  assert.equal(c.taskDefaultRateLimit, '100/m');
  assert.equal(c.workerDisableRateLimits, true);
  assert.equal(applyConfig(defaultConfig(), { task_default_rate_limit: 3 }).taskDefaultRateLimit, 3);
  assert.throws(() => applyConfig(defaultConfig(), { task_default_rate_limit: '3/d' }, 'celeryconfig.js'), (e: unknown) => e instanceof ConfigError && /^celeryconfig\.js: task_default_rate_limit: expected .*got "3\/d"$/.test(e.message));
  assert.throws(() => applyConfig(defaultConfig(), { CELERY_DISABLE_RATE_LIMITS: 'yes' }), ConfigError);
});

test('token bucket: starts full (capacity 1), refills at its rate, says when the next token is due', () => {
  let now = 10_000;
  const b = new TokenBucket(5, 1, () => now);
  assert.equal(b.canConsume(), true);
  assert.equal(b.canConsume(), false, 'capacity 1: one at a time');
  assert.equal(b.expectedTimeMs(), 200);
  now += 150;
  assert.equal(b.canConsume(), false);
  assert.ok(Math.abs(b.expectedTimeMs() - 50) < 1e-9, String(b.expectedTimeMs()));
  now += 50;
  assert.equal(b.canConsume(), true);
  now += 60_000;
  assert.equal(b.tokens(), 1, 'never more than its capacity, however long it was idle');
  assert.equal(b.expectedTimeMs(), 0);
  assert.throws(() => new TokenBucket(0), RangeError);
});

test('token bucket: after an idle spell one take, not two (kombu 5.2 let two through: its refill time stood still while full)', () => {
  let now = 0;
  const b = new TokenBucket(0.1, 1, () => now);
  now = 600_000;
  assert.equal(b.canConsume(), true);
  now += 1;
  assert.equal(b.canConsume(), false);
  now += 9_999;
  assert.equal(b.canConsume(), true, 'ten seconds later at 0.1/s');
});

test('token bucket: a clock that steps back neither refills nor drains it', () => {
  let now = 5_000;
  const b = new TokenBucket(1, 1, () => now);
  assert.equal(b.canConsume(), true);
  now = 1_000;
  assert.equal(b.canConsume(), false);
  now = 2_000;
  assert.equal(b.canConsume(), true, 'refills from where the clock went, a second later');
});
