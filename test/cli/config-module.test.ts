/** --config: the book's config module (config_from_object('config')) read with App.configFromModule. */
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasCode } from '../../lab/errors.js';
import { App } from '../../lab/queue/index.js';
import { applyConfigModule, findConfigModule } from '../../lab/cli/config-module.js';

let dir: string;
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lab-config-'));
  await writeFile(join(dir, 'package.json'), '{"type": "module"}\n');
  // The book's config.py, in JavaScript.
  await writeFile(
    join(dir, 'config.js'),
    "export const BROKER_URL = 'amqp://HOST1';\nexport const CELERY_RESULT_BACKEND = 'redis://HOST2';\n" +
      "export const CELERY_ROUTES = { 'project.task1': { queue: 'queue1' }, 'project.task2': { queue: 'queue2' } };\nexport const task_acks_late = true;\n",
  );
  await writeFile(join(dir, 'routes-only.cjs'), "module.exports = { CELERY_ROUTES: { 'project.task1': 'queue1' }, worker_prefetch_multiplier: 1 };\n");
  await writeFile(join(dir, 'no-results.js'), 'export default { broker_url: "amqp://HOST1", result_backend: null };\n');
  await writeFile(join(dir, 'typo.js'), "export const BROKER_ULR = 'amqp://HOST1';\n");
  await writeFile(join(dir, 'config.ts'), "export const BROKER_URL = 'amqp://HOST1';\n");
});
test.after(() => rm(dir, { recursive: true, force: true }));

test("the book's config module: its settings apply, its URLs are reported, the app's own URLs stay until chosen", async () => {
  const app = new App('t-config', { broker: 'amqp://keep//', backend: null });
  const urls = await applyConfigModule(app, join(dir, 'config.js'));
  assert.deepEqual(urls, { file: join(dir, 'config.js'), broker: 'amqp://HOST1', backend: 'redis://HOST2' });
  assert.deepEqual([app.config.brokerUrl, app.config.resultBackend], ['amqp://keep//', null]);
  assert.equal(app.route('project.task1').queue, 'queue1');
  assert.equal(app.route('project.task2').queue, 'queue2');
  assert.equal(app.route('other').queue, 'celery');
  assert.equal(app.config.taskAcksLate, true);
});

test('a module without URLs reports none (a CommonJS module.exports works too); null turns results off', async () => {
  const app = new App('t-config-2');
  assert.deepEqual(await applyConfigModule(app, join(dir, 'routes-only.cjs')), { file: join(dir, 'routes-only.cjs') });
  assert.equal(app.config.workerPrefetchMultiplier, 1);
  assert.deepEqual(await applyConfigModule(new App('t-config-3'), join(dir, 'no-results.js')), { file: join(dir, 'no-results.js'), broker: 'amqp://HOST1', backend: null });
});

test("a module name as Celery takes it ('config') finds config.js", async () => {
  assert.equal(await findConfigModule('config', dir), join(dir, 'config.js'));
  assert.equal(await findConfigModule('./routes-only', dir), join(dir, 'routes-only.cjs'));
});

test('bad --config: a .ts module is refused with one line naming tsc; a missing one and an unknown setting are named', async () => {
  for (const spec of [join(dir, 'config.ts'), 'config.mts']) {
    await assert.rejects(findConfigModule(spec, dir), (e: unknown) => hasCode(e, 'E_USAGE') && /lab loads JavaScript, not TypeScript: compile it \(npx tsc\) and give lab the \.js it emits/.test((e as Error).message) && !(e as Error).message.includes('\n'));
  }
  await assert.rejects(findConfigModule('nosuch', dir), (e: unknown) => hasCode(e, 'E_USAGE') && /--config nosuch: no such module \(tried nosuch\.js, /.test((e as Error).message));
  await assert.rejects(applyConfigModule(new App('t-config-4'), join(dir, 'typo.js')), (e: unknown) => hasCode(e, 'E_CONFIG') && /typo\.js: BROKER_ULR: unknown setting/.test((e as Error).message));
});
