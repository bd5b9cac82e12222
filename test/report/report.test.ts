import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { UsageError } from '../../lab/errors.js';
import type { ReportFormat } from '../../lab/report/formats.js';
import { writeRecord } from '../../lab/report/records.js';
import { renderJson } from '../../lab/report/render-json.js';
import { runReport } from '../../lab/report/report.js';
import { currencyRun, echoRun, mergesortSweep, mergesortSweepB } from '../fixtures/report/records.js';

let root: string;
let dir: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'lab-report-run-'));
  dir = join(root, 'reports');
  for (const r of [mergesortSweep, mergesortSweepB, echoRun, currencyRun]) await writeRecord(dir, r);
  await writeFile(join(dir, 'garbage.json'), 'nope', 'utf8');
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

const exists = (p: string): Promise<boolean> =>
  stat(p).then(
    () => true,
    () => false,
  );

describe('runReport', () => {
  it('an empty or missing directory is a message, not an error', async () => {
    const empty = join(root, 'empty');
    await mkdir(empty);
    for (const d of [empty, join(root, 'missing')]) {
      for (const format of ['table', 'html'] as ReportFormat[]) {
        const r = await runReport({ dir: d, format });
        assert.equal(r.output, `no runs in ${d}; run \`lab run mergesort --n 4\` first\n`);
        assert.deepEqual(r.warnings, []);
        assert.equal(r.outPath, undefined);
      }
    }
    assert.equal(await exists(join(empty, 'report.html')), false);
  });

  it('default: the latest run per scenario as a table, with warnings for skipped files', async () => {
    const r = await runReport({ dir, format: 'table' });
    assert.equal(r.outPath, undefined);
    assert.match(r.output, /currency/);
    assert.match(r.output, /echo/);
    assert.match(r.output, /distributed 40\.0 ms/, 'the later mergesort run (B)');
    assert.doesNotMatch(r.output, /distributed 51\.0 ms/);
    assert.equal(r.warnings.length, 1);
    assert.match(r.warnings[0]!, /garbage\.json: skipped: not valid JSON/);
  });

  it('--last and --scenario select', async () => {
    const last = JSON.parse((await runReport({ dir, format: 'json', last: 2 })).output) as { runs: { id: string }[] };
    assert.deepEqual(
      last.runs.map((x) => x.id),
      [echoRun.id, currencyRun.id],
    );
    const ms = JSON.parse((await runReport({ dir, format: 'json', scenario: 'mergesort', last: 5 })).output) as { runs: { id: string }[] };
    assert.deepEqual(
      ms.runs.map((x) => x.id),
      [mergesortSweep.id, mergesortSweepB.id],
    );
    const none = await runReport({ dir, format: 'table', scenario: 'routing' });
    assert.match(none.output, /^no runs of routing in .*; run `lab run routing` first \(runs present: currency, echo, mergesort\)\n$/);
  });

  it('html without --out writes <dir>/report.html; --out - returns the page', async () => {
    const r = await runReport({ dir, format: 'html' });
    assert.equal(r.outPath, join(dir, 'report.html'));
    assert.equal(r.output, `report written to ${r.outPath}\n`);
    const html = await readFile(r.outPath, 'utf8');
    assert.match(html, /^<!DOCTYPE html>/);
    const stdout = await runReport({ dir, format: 'html', out: '-' });
    assert.equal(stdout.outPath, undefined);
    assert.equal(stdout.output, html);
    // the report file is not mistaken for a record next time
    assert.equal((await runReport({ dir, format: 'csv' })).warnings.length, 1);
  });

  it('--out writes any format to the file (creating directories)', async () => {
    const out = join(root, 'out', 'sub', 'r.json');
    const r = await runReport({ dir, format: 'json', out });
    assert.equal(r.outPath, out);
    assert.equal(await readFile(out, 'utf8'), renderJson([currencyRun, echoRun, mergesortSweepB]));
  });

  it('a JSON report written into the reports dir is skipped silently on the next load', async () => {
    await runReport({ dir, format: 'json', out: join(dir, 'summary.json') });
    const r = await runReport({ dir, format: 'table' });
    assert.equal(r.warnings.length, 1, r.warnings.join('\n'));
  });

  it('--compare by label and id prefix, in every format', async () => {
    for (const format of ['table', 'json', 'csv', 'md'] as ReportFormat[]) {
      const r = await runReport({ dir, format, compare: ['2026-11-20T10', 'after-prefetch-fix'] });
      assert.match(r.output, /faster/, format);
    }
    const html = await runReport({ dir, format: 'html', compare: [mergesortSweep.id, 'after-prefetch-fix'] });
    assert.equal(html.outPath, join(dir, 'compare.html'));
    assert.match(await readFile(html.outPath, 'utf8'), /data-chart="compare"/);
  });

  it('--compare with an unknown run → UsageError naming it', async () => {
    await assert.rejects(
      runReport({ dir, format: 'table', compare: [mergesortSweep.id, 'no-such-run'] }),
      (err: unknown) => err instanceof UsageError && err.exitCode === 2 && err.message.includes("'no-such-run'"),
    );
    await assert.rejects(runReport({ dir: join(root, 'missing'), format: 'table', compare: ['a', 'b'] }), UsageError);
    // --scenario narrows the lookup
    await assert.rejects(runReport({ dir, format: 'table', scenario: 'echo', compare: ['echo-baseline', 'after-prefetch-fix'] }), /after-prefetch-fix/);
  });

  it('bad options → UsageError', async () => {
    await assert.rejects(runReport({ dir, format: 'pdf' as ReportFormat }), UsageError);
    await assert.rejects(runReport({ dir, format: 'table', last: 0 }), UsageError);
    await assert.rejects(runReport({ dir, format: 'table', last: 1.5 }), UsageError);
  });
});
