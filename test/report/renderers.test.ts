/**
 * Every renderer against golden files in test/fixtures/report/golden/ (UPDATE_GOLDEN=1 rewrites them), plus
 * format-specific checks (CSV round-trips through an RFC 4180 parser, HTML is self-contained and escaped).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareRuns } from '../../lab/report/compare.js';
import { csvField, renderCompareCsv, renderCsv } from '../../lab/report/render-csv.js';
import { renderCompareHtml, renderHtml } from '../../lab/report/render-html.js';
import { renderCompareJson, renderJson } from '../../lab/report/render-json.js';
import { mdCell, renderCompareMarkdown, renderMarkdown } from '../../lab/report/render-md.js';
import { renderCompareTable, renderTable } from '../../lab/report/render-table.js';
import { allFixtures, currencyRun, echoRun, mergesortSweep, mergesortSweepB } from '../fixtures/report/records.js';
import { assertGolden, parseCsv } from './support.js';

const renderers = {
  'table.txt': renderTable,
  'report.json': renderJson,
  'report.csv': renderCsv,
  'report.md': renderMarkdown,
  'report.html': renderHtml,
};
const compareRenderers = {
  'compare-table.txt': renderCompareTable,
  'compare.json': renderCompareJson,
  'compare.csv': renderCompareCsv,
  'compare.md': renderCompareMarkdown,
  'compare.html': renderCompareHtml,
};

describe('renderers match golden files', () => {
  for (const [name, render] of Object.entries(renderers)) {
    it(name, async () => {
      const out = render(allFixtures);
      assert.equal(render(allFixtures), out, 'deterministic');
      await assertGolden(name, out);
    });
  }
  for (const [name, render] of Object.entries(compareRenderers)) {
    it(name, async () => {
      await assertGolden(name, render(compareRuns(mergesortSweep, mergesortSweepB)));
    });
  }
});

describe('renderer details', () => {
  it('table: one row per point, speed-up with ×, ✓/✗, failed verification listed', () => {
    const out = renderTable(allFixtures);
    assert.match(out, /mergesort.*n=4 size=100000.*local 100 ms.*distributed 51\.0 ms.*1\.96×.*✓/);
    assert.match(out, /currency.*✗/);
    assert.match(out, /verification failed:\n✗ currency .*rate for JPY missing/);
    assert.ok(!/\x1b\[/.test(out), 'no ANSI colours');
  });

  it('json: parses, carries stats and speed-ups, no raw samples', () => {
    const doc = JSON.parse(renderJson(allFixtures)) as { schema: string; runs: { id: string; points: Record<string, unknown>[] }[] };
    assert.equal(doc.schema, 'lab.report/1');
    assert.deepEqual(
      doc.runs.map((r) => r.id),
      allFixtures.map((r) => r.id),
    );
    const p = doc.runs[0]!.points[2]!;
    assert.ok(!('samples' in p));
    assert.deepEqual((p.speedup as { ratio: number }).ratio, 1.960784);
  });

  it('csv: RFC 4180 quoting round-trips; one row per run × point × mode', () => {
    assert.equal(csvField('plain'), 'plain');
    assert.equal(csvField('a,b'), '"a,b"');
    assert.equal(csvField('say "hi"'), '"say ""hi"""');
    assert.equal(csvField('two\nlines'), '"two\nlines"');
    const out = renderCsv(allFixtures);
    assert.ok(out.endsWith('\r\n'));
    const rows = parseCsv(out);
    const header = rows[0]!;
    assert.equal(rows.length, 1 + 3 * 2 + 2 + 3);
    for (const r of rows) assert.equal(r.length, header.length);
    const label = rows[rows.length - 1]![header.indexOf('label')];
    assert.equal(label, currencyRun.label);
    assert.equal(rows[rows.length - 1]![header.indexOf('param_currencies')], '["USD","EUR","JPY"]');
  });

  it('markdown: cells are escaped', () => {
    assert.equal(mdCell('a|b'), 'a\\|b');
    assert.equal(mdCell('<b>x</b>'), '&lt;b&gt;x&lt;/b&gt;');
    assert.equal(mdCell('one\ntwo'), 'one two');
    const out = renderMarkdown(allFixtures);
    for (const line of out.split('\n').filter((l) => l.startsWith('| '))) {
      assert.equal(line.split(/(?<!\\)\|/).length, 11, line);
    }
  });

  it('html: self-contained, escaped, charts named', () => {
    const out = renderHtml(allFixtures);
    assert.ok(out.startsWith('<!DOCTYPE html>'));
    assert.ok(!/<script/i.test(out), 'no scripts');
    assert.ok(!/<link|@import|url\(|src=/i.test(out), 'no external resources');
    assert.deepEqual([...new Set(out.match(/https?:\/\/[^\s"'<]+/g) ?? [])], ['http://www.w3.org/2000/svg'], 'the only URL is the SVG namespace');
    assert.ok(!out.includes(`<b>"new"`), 'the label is escaped');
    assert.ok(out.includes('&lt;b&gt;&quot;new&quot; &amp; &#39;pipes&#39; | x, y&lt;/b&gt;'));
    const charts = [...out.matchAll(/data-chart="([^"]+)"/g)].map((m) => m[1]);
    assert.deepEqual(charts, ['time-vs-param', 'phases', 'latency', 'phases', 'latency', 'latency-items', 'phases', 'latency', 'latency-items']);
    const cmp = renderCompareHtml(compareRuns(mergesortSweep, mergesortSweepB));
    assert.deepEqual([...cmp.matchAll(/data-chart="([^"]+)"/g)].map((m) => m[1]), ['compare']);
  });

  it('a run that stopped early says so in every format', () => {
    const stopped = { ...echoRun, error: 'E_RUN: worker <w1> died' };
    assert.match(renderTable([stopped]), /stopped early:\necho \(.*\): E_RUN: worker <w1> died/);
    assert.match(renderMarkdown([stopped]), /\*\*Stopped early:\*\*\n\n- echo .*worker &lt;w1&gt; died/);
    assert.match(renderHtml([stopped]), /stopped early: E_RUN: worker &lt;w1&gt; died/);
    assert.equal((JSON.parse(renderJson([stopped])) as { runs: { error: string }[] }).runs[0]!.error, stopped.error);
    assert.match(renderCsv([stopped]), /,E_RUN: worker <w1> died\r\n/);
  });

  it('html: a run without samples or phases still renders', () => {
    const bare = { ...currencyRun, id: 'bare', points: [{ params: {}, samples: [], stats: {}, verify: { ok: true, detail: 'ok' } }] };
    const out = renderHtml([bare]);
    assert.match(out, /no samples in this run/);
  });
});
