/**
 * Browser test of the HTML report: load the rendered files in headless Debian chromium (through playwright-core's
 * CDP driver, executablePath /usr/bin/chromium — no downloaded browsers) and check that every chart rendered,
 * with non-zero size and drawn marks, without console errors, page exceptions or network requests. Saves
 * full-page screenshots to $LAB_ARTIFACTS_DIR or reports/artifacts/ and prints their paths.
 *
 * Prerequisite: /usr/bin/chromium (CI installs it: apt-get install -y chromium). Missing → loud skip outside CI,
 * failure under CI=true (test/support/prereq.ts).
 */
import assert from 'node:assert/strict';
import { constants } from 'node:fs';
import { access, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it, type TestContext } from 'node:test';
import { compareRuns } from '../../lab/report/compare.js';
import { renderCompareHtml, renderHtml } from '../../lab/report/render-html.js';
import { needs } from '../support/prereq.js';
import { allFixtures, mergesortSweep, mergesortSweepB } from '../fixtures/report/records.js';
import { repoRoot } from './support.js';

const CHROMIUM = process.env.LAB_CHROMIUM ?? '/usr/bin/chromium';
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const chromiumPresent = (t: TestContext): Promise<boolean> =>
  needs(t, `chromium at ${CHROMIUM}`, async () => {
    try {
      await access(CHROMIUM, constants.X_OK);
    } catch {
      return `${CHROMIUM} not found or not executable (install it: apt-get install -y chromium)`;
    }
    try {
      await import('playwright-core');
    } catch (err) {
      return `playwright-core is not installed (npm install): ${(err as Error).message}`;
    }
    return null;
  });

interface ChartInfo {
  name: string;
  width: number;
  height: number;
  marks: number;
  titled: number;
  hasTitle: boolean;
}

let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'lab-report-browser-'));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

interface PageResult {
  charts: ChartInfo[];
  /** console errors/warnings and uncaught exceptions */
  problems: string[];
  /** URLs requested other than file: */
  requests: string[];
}

async function inspect(t: TestContext, html: string, name: string): Promise<PageResult> {
  const { chromium } = await import('playwright-core');
  const file = join(work, `${name}.html`);
  await writeFile(file, html, 'utf8');
  const userDataDir = await mkdtemp(join(tmpdir(), 'lab-chromium-profile-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    viewport: { width: 1200, height: 900 },
    timeout: 60_000,
  });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    const problems: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console.${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`exception: ${e.message}`));
    page.on('request', (r) => {
      if (!r.url().startsWith('file:')) requests.push(r.url());
    });
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
    const charts = await page.$$eval('svg[data-chart]', (svgs) =>
      svgs.map((svg) => {
        const box = svg.getBoundingClientRect();
        return {
          name: svg.getAttribute('data-chart') ?? '',
          width: box.width,
          height: box.height,
          marks: svg.querySelectorAll('path, rect, circle, line').length,
          titled: svg.querySelectorAll('path > title, rect > title, circle > title, line > title').length,
          hasTitle: svg.querySelector(':scope > title') !== null,
        };
      }),
    );
    const artifacts = process.env.LAB_ARTIFACTS_DIR ?? join(repoRoot(), 'reports', 'artifacts');
    await mkdir(artifacts, { recursive: true });
    const shot = join(artifacts, `report-${name}.png`);
    await page.screenshot({ path: shot, fullPage: true });
    t.diagnostic(`screenshot: ${shot}`);
    console.log(`screenshot: ${shot}`);
    return { charts, problems, requests };
  } finally {
    await context.close();
    await rm(userDataDir, { recursive: true, force: true });
  }
}

function checkPage({ charts, problems, requests }: PageResult, expected: string[]): void {
  assert.deepEqual(problems, [], 'no console errors or page exceptions');
  assert.deepEqual(requests, [], 'no network requests');
  assert.deepEqual(
    charts.map((c) => c.name),
    expected,
  );
  for (const c of charts) {
    assert.ok(c.width > 100 && c.height > 50, `${c.name}: rendered with a real size (${c.width}×${c.height})`);
    assert.ok(c.marks > 3, `${c.name}: has drawn marks (${c.marks})`);
    assert.ok(c.titled > 0, `${c.name}: data marks carry <title> tooltips`);
    assert.ok(c.hasTitle, `${c.name}: has an accessible <title>`);
  }
}

describe('HTML report in headless chromium', { timeout: 120_000 }, () => {
  it('report: every chart renders, no errors, no network', async (t) => {
    if (!(await chromiumPresent(t))) return;
    checkPage(await inspect(t, renderHtml(allFixtures), 'fixtures'), ['time-vs-param', 'phases', 'latency', 'phases', 'latency', 'latency-items', 'phases', 'latency', 'latency-items']);
  });

  it('compare: the ratio chart renders', async (t) => {
    if (!(await chromiumPresent(t))) return;
    checkPage(await inspect(t, renderCompareHtml(compareRuns(mergesortSweep, mergesortSweepB)), 'compare'), ['compare']);
  });

  it('the checks would notice an external resource or a script error (CSP blocks both)', async (t) => {
    if (!(await chromiumPresent(t))) return;
    const html = renderHtml([mergesortSweep]).replace(
      '</body>',
      '<img src="http://192.0.2.1/pixel.png" alt=""><script>throw new Error("boom")</script></body>',
    );
    const r = await inspect(t, html, 'negative-control');
    assert.ok(r.problems.length >= 2, `CSP violations reported: ${r.problems.join(' / ')}`);
    assert.ok(r.problems.some((p) => /img-src|image/i.test(p)));
    assert.ok(r.problems.some((p) => /script/i.test(p)));
  });
});
