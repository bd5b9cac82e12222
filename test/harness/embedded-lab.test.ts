/** The embedded lab owns its memory transports: the apps it binds meet there; a second lab starts clean. */
import test from 'node:test';
import assert from 'node:assert/strict';
import { App } from '../../lab/queue/index.js';
import { UrlError } from '../../lab/queue/errors.js';
import { openEmbeddedLab } from '../../lab/harness/embedded-lab.js';
import { echoScenario } from '../../scenarios/echo/echo.js';

test('embedded lab: the scenario app and every app bound to the lab share its broker and backend', async (t) => {
  const lab = await openEmbeddedLab(echoScenario, { pool: 'threads', concurrency: 1 });
  t.after(() => lab.close());
  const { echo } = await import('../../scenarios/echo/tasks.js');
  assert.equal(await (await echo.delay('through the scenario app')).get({ timeout: 10 }), 'through the scenario app');

  const other = new App('other');
  await assert.rejects(other.getBroker(), (e: unknown) => e instanceof UrlError && /memory:\/\/ only exists inside an embedded lab/.test(e.message), 'not bound yet');
  lab.bind(other);
  assert.equal(await (await other.sendTask('test.echo', ['through a bound app'])).get({ timeout: 10 }), 'through a bound app');
});

test('embedded lab: a second lab in the same process has its own transports, and works after the first closed', async () => {
  const first = await openEmbeddedLab(echoScenario, { pool: 'async', concurrency: 1 });
  const { app, echo } = await import('../../scenarios/echo/tasks.js');
  const firstBroker = await app.getBroker();
  await first.close();
  assert.equal(firstBroker.status, 'closed', 'closing the lab closed its broker');

  const second = await openEmbeddedLab(echoScenario, { pool: 'threads', concurrency: 1 });
  try {
    const broker = await app.getBroker();
    assert.notEqual(broker, firstBroker);
    assert.equal(broker.status, 'ready');
    assert.equal(await (await echo.delay('second lab')).get({ timeout: 10 }), 'second lab');
  } finally {
    await second.close();
  }
});
