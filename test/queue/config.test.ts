import test from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../lab/errors.js';
import { App } from '../../lab/queue/index.js';

test("configFromObject takes the book's old uppercase names and the new lowercase ones", () => {
  const app = new App('cfg');
  app.configFromObject({ BROKER_URL: 'amqp://HOST1', CELERY_RESULT_BACKEND: 'redis://HOST2', CELERY_ROUTES: { 'project.task1': { queue: 'queue1' } } });
  assert.equal(app.config.brokerUrl, 'amqp://HOST1');
  assert.equal(app.config.resultBackend, 'redis://HOST2');
  assert.deepEqual(app.route('project.task1'), { queue: 'queue1', exchange: '', routingKey: 'queue1', priority: undefined });
  app.configFromObject({ task_acks_late: true, worker_prefetch_multiplier: 1, result_expires: 60 });
  assert.equal(app.config.taskAcksLate, true);
  assert.equal(app.config.workerPrefetchMultiplier, 1);
});

test('unknown settings and wrong types are refused, naming the setting', () => {
  const app = new App('cfg2');
  assert.throws(() => app.configFromObject({ brokr_url: 'x' }), (e: unknown) => e instanceof ConfigError && e.field === 'brokr_url' && e.exitCode === 2);
  assert.throws(() => app.configFromObject({ task_acks_late: 'yes' }), (e: unknown) => e instanceof ConfigError && e.field === 'task_acks_late' && /true or false/.test(e.message));
});

test('pickle and yaml serializers are never accepted; json and msgpack are', () => {
  const app = new App('cfg3');
  assert.throws(() => app.configFromObject({ task_serializer: 'pickle' }), (e: unknown) => e instanceof ConfigError && e.field === 'task_serializer' && /only "json" and "msgpack"/.test(e.message));
  assert.throws(() => app.configFromObject({ CELERY_RESULT_SERIALIZER: 'yaml' }), (e: unknown) => e instanceof ConfigError && e.field === 'result_serializer');
  app.configFromObject({ task_serializer: 'msgpack', result_serializer: 'msgpack', accept_content: ['json', 'msgpack'] });
  assert.equal(app.config.taskSerializer, 'msgpack');
  assert.equal(app.config.resultSerializer, 'msgpack');
});

test('routes: explicit queue beats task_routes, glob patterns match', () => {
  const app = new App('cfg4', { config: { task_routes: { 'feed.*': 'feeds' } } });
  assert.equal(app.route('feed.fetch').queue, 'feeds');
  assert.equal(app.route('other').queue, 'celery');
  assert.equal(app.route('feed.fetch', { queue: 'urgent' }).queue, 'urgent');
});

test("configFromModule reads a module like the book's config.py", async () => {
  const app = new App('cfgmod');
  await app.configFromModule(new URL('../fixtures/queue/celeryconfig.js', import.meta.url));
  assert.equal(app.config.brokerUrl, 'amqp://HOST1');
  assert.equal(app.config.resultBackend, 'redis://HOST2');
  assert.equal(app.route('project.task2').queue, 'queue2');
  await assert.rejects(new App('bad').configFromModule(new URL('../fixtures/queue/badconfig.js', import.meta.url)), (e: unknown) => e instanceof ConfigError && e.field === 'BROKR_URL' && /badconfig\.js/.test(e.message));
  await assert.rejects(new App('missing').configFromModule('/nonexistent/config.js'), (e: unknown) => e instanceof ConfigError && /cannot load the config module/.test(e.message));
});
