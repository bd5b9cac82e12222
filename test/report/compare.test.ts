import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BOOTSTRAP_MIN_N, compareRuns, verdictOf } from '../../lab/report/compare.js';
import type { RunRecord } from '../../lab/report/run-record.js';
import { summarize } from '../../lab/report/statistics.js';
import { currencyRun, echoRun, mergesortSweep, mergesortSweepB } from '../fixtures/report/records.js';

describe('compareRuns', () => {
  it('mergesort A vs B: per point and mode, B/A with a bootstrap band and a verdict', () => {
    const c = compareRuns(mergesortSweep, mergesortSweepB);
    assert.equal(c.schema, 'lab.compare/1');
    assert.equal(c.a.id, mergesortSweep.id);
    assert.equal(c.b.label, 'after-prefetch-fix');
    assert.deepEqual(c.notes, []);
    const got = c.rows.map((r) => [r.params.n, r.mode, r.verdict, r.ratio?.method]);
    assert.deepEqual(got, [
      [1, 'local', 'within noise', 'bootstrap'],
      [1, 'distributed', 'faster', 'bootstrap'],
      [2, 'local', 'within noise', 'bootstrap'],
      [2, 'distributed', 'within noise', 'bootstrap'],
      [4, 'local', 'within noise', 'bootstrap'],
      [4, 'distributed', 'faster', 'bootstrap'],
    ]);
    const n4 = c.rows[5]!;
    assert.equal(n4.a!.median, 51);
    assert.equal(n4.b!.median, 40);
    assert.equal(n4.ratio!.ratio, 40 / 51);
    assert.ok(n4.ratio!.high < 1);
  });

  it('reversed, the faster rows become slower', () => {
    const c = compareRuns(mergesortSweepB, mergesortSweep);
    assert.deepEqual(
      c.rows.filter((r) => r.mode === 'distributed').map((r) => r.verdict),
      ['slower', 'within noise', 'slower'],
    );
  });

  it(`fewer than ${BOOTSTRAP_MIN_N} samples: MAD band`, () => {
    const slower: RunRecord = JSON.parse(JSON.stringify(echoRun)) as RunRecord;
    slower.id = 'echo-slower';
    const p = slower.points[0]!;
    for (const s of p.samples) if (s.mode === 'distributed') s.totalMs *= 2;
    p.stats.distributed!.total = summarize(p.samples.filter((s) => s.mode === 'distributed').map((s) => s.totalMs));
    const c = compareRuns(echoRun, slower);
    const d = c.rows.find((r) => r.mode === 'distributed')!;
    assert.equal(d.ratio!.method, 'mad');
    assert.equal(d.ratio!.ratio, 2);
    assert.equal(d.verdict, 'slower');
    assert.equal(c.rows.find((r) => r.mode === 'local')!.verdict, 'within noise');
  });

  it('points and modes on one side only; different scenarios are noted', () => {
    const c = compareRuns(echoRun, currencyRun);
    assert.ok(c.notes.some((n) => /different scenarios/.test(n)));
    assert.ok(c.notes.some((n) => /no point and mode in common/.test(n)));
    assert.ok(c.rows.every((r) => r.verdict === 'only in A' || r.verdict === 'only in B'));
    assert.deepEqual(
      c.rows.map((r) => r.verdict),
      ['only in A', 'only in A', 'only in B', 'only in B', 'only in B'],
    );
  });

  it('verdictOf', () => {
    assert.equal(verdictOf({ ratio: 0.8, low: 0.7, high: 0.9, method: 'mad' }), 'faster');
    assert.equal(verdictOf({ ratio: 1.2, low: 1.1, high: 1.3, method: 'mad' }), 'slower');
    assert.equal(verdictOf({ ratio: 0.9, low: 0.8, high: 1, method: 'mad' }), 'within noise');
  });
});
