/**
 * Reports of runs that compared implementations (`lab run --impl lab,celery,rq,pyro`): every format shows
 * implementation × mode side by side with each peer's time relative to lab's same mode — golden files in
 * test/fixtures/report/golden/implementations* (UPDATE_GOLDEN=1 rewrites them) — and records without
 * implementations render as they always did (the other golden files).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderRunSummary } from '../../lab/cli/run-output.js';
import { hasImplementations, labCounterpart, vsLab } from '../../lab/report/derive.js';
import { renderCsv } from '../../lab/report/render-csv.js';
import { renderHtml } from '../../lab/report/render-html.js';
import { renderJson } from '../../lab/report/render-json.js';
import { renderMarkdown } from '../../lab/report/render-md.js';
import { renderTable } from '../../lab/report/render-table.js';
import { modeKey, splitModeKey } from '../../lab/report/run-record.js';
import { currencyImpls, echoRun, mergesortCeleryOnly } from '../fixtures/report/records.js';
import { assertGolden, parseCsv } from './support.js';

const records = [currencyImpls, mergesortCeleryOnly];

describe('implementations: golden files', () => {
  const renderers = {
    'implementations-table.txt': renderTable,
    'implementations.json': renderJson,
    'implementations.csv': renderCsv,
    'implementations.md': renderMarkdown,
    'implementations.html': renderHtml,
  };
  for (const [name, render] of Object.entries(renderers)) it(name, () => assertGolden(name, render(records)));
  it('implementations-summary.txt (what lab run prints)', () => assertGolden('implementations-summary.txt', renderRunSummary(currencyImpls)));
});

describe('implementations: keys, counterparts, ratios', () => {
  it('mode keys: lab keeps its names, a peer is <impl>/<mode>', () => {
    assert.equal(modeKey('lab', 'distributed'), 'distributed');
    assert.equal(modeKey('celery', 'distributed'), 'celery/distributed');
    assert.deepEqual(splitModeKey('pyro/async'), { impl: 'pyro', mode: 'async' });
    assert.deepEqual(splitModeKey('distributed'), { impl: 'lab', mode: 'distributed' });
  });

  it('each peer mode against lab: same name, or as the record says (pyro sync ↔ sequential)', () => {
    assert.equal(labCounterpart(currencyImpls, 'celery/concurrent'), 'concurrent');
    assert.equal(labCounterpart(currencyImpls, 'pyro/sync'), 'sequential');
    assert.equal(labCounterpart(currencyImpls, 'pyro/async'), 'distributed');
    assert.equal(labCounterpart(currencyImpls, 'distributed'), undefined, "lab's own mode");
    assert.equal(labCounterpart(mergesortCeleryOnly, 'celery/distributed'), undefined, 'lab did not run');
    const p = currencyImpls.points[0]!;
    const rq = vsLab(currencyImpls, p, 'rq/distributed')!;
    assert.equal(rq.against, 'distributed');
    assert.ok(Math.abs(rq.ratio.ratio - 149 / 73.5) < 1e-9, String(rq.ratio.ratio));
    assert.equal(rq.ratio.method, 'bootstrap', 'five samples each: a bootstrap band');
  });

  it('old records are not implementation runs, and render as before', () => {
    assert.equal(hasImplementations(echoRun), false);
    assert.equal(hasImplementations(currencyImpls), true);
    assert.equal(hasImplementations(mergesortCeleryOnly), true);
    assert.ok(!renderTable([echoRun]).includes('× lab'));
    assert.ok(!renderCsv([echoRun]).includes('vs_lab_ratio'));
  });

  it('table and summary: a matrix row per mode, a column per implementation, × lab in each peer cell', () => {
    const t = renderTable(records);
    assert.match(t, /│ distributed +│ +73\.5 ms │ +76\.4 ms \(1\.04× lab\) │ +149 ms \(2\.03× lab\) │ +— │/);
    assert.match(t, /│ async +│ +— │ +— │ +— │ 28\.2 ms \(0\.38× lab distributed\) │/);
    assert.match(t, /compared across names: pyro sync ↔ lab sequential, pyro async ↔ lab distributed/);
    const s = renderRunSummary(currencyImpls);
    assert.match(s, /│ pyro +│ sync +│ +134 ms .*│ +1\.04× sequential │/);
  });

  it('csv: implementation, its mode, lab mode and ratio on every row', () => {
    const rows = parseCsv(renderCsv(records));
    const head = rows[0]!;
    const at = (row: string[], col: string): string => row[head.indexOf(col)]!;
    const pyroSync = rows.find((r) => at(r, 'mode') === 'pyro/sync')!;
    assert.deepEqual([at(pyroSync, 'implementation'), at(pyroSync, 'impl_mode'), at(pyroSync, 'vs_lab_mode')], ['pyro', 'sync', 'sequential']);
    assert.ok(Math.abs(Number(at(pyroSync, 'vs_lab_ratio')) - 133.5 / 128) < 1e-6);
    const labRow = rows.find((r) => at(r, 'mode') === 'distributed')!;
    assert.equal(at(labRow, 'implementation'), 'lab');
    assert.equal(at(labRow, 'vs_lab_ratio'), '');
  });

  it('json: the implementations and each point\'s vsLab', () => {
    const doc = JSON.parse(renderJson(records)) as { runs: { implementations?: { name: string }[]; points: { vsLab?: Record<string, { against: string; ratio: number }> }[] }[] };
    assert.deepEqual(doc.runs[0]!.implementations!.map((i) => i.name), ['lab', 'celery', 'rq', 'pyro']);
    assert.equal(doc.runs[0]!.points[0]!.vsLab!['pyro/async']!.against, 'distributed');
    assert.deepEqual(doc.runs[1]!.points[0]!.vsLab, {}, 'no lab, no ratios');
  });
});
