/**
 * `lab dashboard` in headless Debian chromium (playwright-core, executablePath /usr/bin/chromium): the page shows a
 * lab worker started with -E, updates live while a fan-out runs, lists a failure with its traceback, shows the
 * queue, and logs no console errors, throws nothing and requests nothing but its own origin. A wrong token is 403.
 * Saves a screenshot to $LAB_ARTIFACTS_DIR or reports/artifacts/ and prints its path.
 */
import test from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { constants } from 'node:fs';
import { access, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, createBroker } from '../../lab/queue/index.js';
import type { Broker } from '../../lab/queue/index.js';
import { Dashboard } from '../../lab/dashboard/dashboard-server.js';
import { RABBITMQ_URL, needs, rabbitmq } from '../support/prereq.js';
import { startLabWorker } from '../support/peers.js';
import type { Peer } from '../support/peers.js';
import { REPO_ROOT } from '../support/cli.js';

const CHROMIUM = process.env.LAB_CHROMIUM ?? '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run', '--disable-component-update', '--disable-sync'];
const RUN = randomBytes(4).toString('hex');
const QUEUE = `lab-dashboard-${RUN}`;
const NODE = `lab-dash-${RUN}@test`;
const TASKS = fileURLToPath(new URL('../fixtures/interop/tasks.js', import.meta.url));

/** Poll `ok` until it holds or the time is up (then fail saying what the page showed). */
async function until(ok: () => Promise<boolean>, timeoutMs: number, why: () => Promise<string>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) assert.fail(await why());
    await new Promise((r) => setTimeout(r, 200));
  }
}

const chromiumPresent = (t: TestContext): Promise<boolean> =>
  needs(t, `chromium at ${CHROMIUM}`, async () => {
    try {
      await access(CHROMIUM, constants.X_OK);
      await import('playwright-core');
      return null;
    } catch (err) {
      return `${(err as Error).message} (apt-get install -y chromium; npm install)`;
    }
  });

test('the dashboard shows the workers, updates live during a fan-out, lists failures with tracebacks; no console errors', async (t) => {
  if (!((await rabbitmq(t)) && (await chromiumPresent(t)))) return;
  const app = new App(`dashboard-${RUN}`, { broker: RABBITMQ_URL, backend: null, config: { task_default_queue: QUEUE, task_send_sent_event: true } });
  let worker: Peer | null = null;
  let broker: Broker | null = null;
  let dashboard: Dashboard | null = null;
  const profile = await mkdtemp(join(tmpdir(), 'lab-dashboard-chromium-'));
  try {
    await app.ensureQueue(await app.getBroker(), QUEUE);
    worker = await startLabWorker({ module: TASKS, queue: QUEUE, broker: RABBITMQ_URL, backend: null, concurrency: 2, extra: ['-n', NODE, '-E'] });
    broker = await createBroker(RABBITMQ_URL);
    // The lab's faults as its ledger would list them: one in effect from the start, healed once the failure shows.
    let recorded = [{ id: 'f1', kind: 'partition', text: 'partition HOST3 from <b>HOST1</b>', startedAt: new Date().toISOString() }];
    dashboard = new Dashboard({ broker, queues: [QUEUE], pushIntervalMs: 300, surveyIntervalMs: 1000, faults: async () => recorded });
    const warnings: string[] = [];
    dashboard.on('warning', (m) => warnings.push(m));
    await dashboard.start();
    assert.match(dashboard.url, /^http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{32}$/);

    const wrong = await fetch(dashboard.url.replace(/token=.*/, 'token=nope'));
    assert.equal(wrong.status, 403);
    assert.equal((await fetch(dashboard.url.replace(/\?token=.*/, ''))).status, 403);

    const { chromium } = await import('playwright-core');
    const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS, viewport: { width: 1100, height: 1400 }, timeout: 60_000 });
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      const problems: string[] = [];
      const foreign: string[] = [];
      const origin = new URL(dashboard.url).origin;
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(`console.${m.type()}: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`exception: ${e.message}`));
      page.on('request', (r) => {
        if (!r.url().startsWith(origin)) foreign.push(r.url());
      });
      await page.goto(dashboard.url, { waitUntil: 'load' });
      // The worker, online (heartbeats), with its pool from remote control.
      const workerRow = async (): Promise<string> => (await page.$$eval('#workers tbody tr', (trs) => trs.map((tr) => tr.textContent ?? ''))).find((r) => r.includes(NODE)) ?? '';
      await until(async () => /online.*prefork/.test(await workerRow()), 15_000, async () => `worker row: ${await workerRow()} problems: ${problems.join(' / ')}; dashboard warnings: ${warnings.join(' / ')}`);

      // A fan-out: the succeeded count must move while it runs, not only at the end.
      const N = 150;
      const sent = Promise.all(Array.from({ length: N }, () => app.sendTask('interop.sleep', [40])));
      const seen = new Set<number>();
      const deadline = Date.now() + 60_000;
      for (;;) {
        const v = Number(await page.textContent('#succeeded'));
        seen.add(v);
        if (v >= N || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      await sent;
      const values = [...seen].sort((a, b) => a - b);
      assert.equal(values[values.length - 1], N, `all ${N} tasks counted: ${values.join(', ')}`);
      assert.ok(values.filter((v) => v > 0 && v < N).length >= 3, `live updates during the run: saw ${values.join(', ')}`);
      assert.notEqual(await page.textContent('#p50'), '—', 'latency shown');
      const marks = await page.$$eval('svg[data-chart] path', (ps) => ps.filter((p) => (p.getAttribute('d') ?? '').includes('L')).length);
      assert.ok(marks >= 2, 'the charts drew lines');
      assert.ok(await page.$$eval('#queues tbody tr', (trs, q) => trs.some((tr) => tr.textContent!.includes(q)), QUEUE), 'the queue is listed');

      // A failure, with its traceback — and markup in it shown as text, not run.
      await app.sendTask('interop.boom', ['Error', '<img src=x onerror=alert(1)> for the dashboard']);
      await until(async () => ((await page.textContent('#failures')) ?? '').includes('for the dashboard'), 15_000, async () => `failures: ${await page.textContent('#failures')}`);
      assert.match((await page.textContent('#failures pre')) ?? '', /Error: .*for the dashboard\n\s+at /, 'the traceback');
      assert.match((await page.textContent('#failures'))!, /interop\.boom\[.*\] on lab-dash-.*<img src=x onerror=alert\(1\)> for the dashboard/);
      assert.equal(await page.$$eval('#failures img', (imgs) => imgs.length), 0);

      // The fault: a band on both charts and a row, in effect; then healed (its row says so), its markup shown as text.
      assert.equal(await page.$$eval('svg[data-chart] rect[data-fault="f1"]', (r) => r.length), 2, 'a band on each chart');
      assert.match((await page.textContent('#faults tbody'))!, /partition HOST3 from <b>HOST1<\/b>partition.*in effect/);
      recorded = [];
      await until(async () => ((await page.textContent('#faults tbody')) ?? '').includes('healed'), 10_000, async () => `faults: ${await page.textContent('#faults tbody')}`);
      assert.equal(await page.$$eval('#faults b', (b) => b.length), 0);

      const artifacts = process.env.LAB_ARTIFACTS_DIR ?? join(REPO_ROOT, 'reports', 'artifacts');
      await mkdir(artifacts, { recursive: true });
      const shot = join(artifacts, 'dashboard.png');
      await page.screenshot({ path: shot, fullPage: true });
      t.diagnostic(`screenshot: ${shot}`);
      assert.deepEqual(problems, []);
      assert.deepEqual(foreign, []);
    } finally {
      await context.close();
    }
  } finally {
    await dashboard?.close();
    await broker?.close();
    await worker?.stop();
    const b = await app.getBroker().catch(() => null);
    await b?.purge(QUEUE).catch(() => undefined);
    await b?.deleteQueue(QUEUE).catch(() => undefined);
    await app.close();
    await rm(profile, { recursive: true, force: true });
  }
});
