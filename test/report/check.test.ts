import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hasCode } from '../../lab/errors.js';
import { parseMaxSpec, parseRegression, runChecks, splitModes } from '../../lab/report/check.js';
import { compareRuns, NOT_ENOUGH_REPEATS } from '../../lab/report/compare.js';
import { writeRecord } from '../../lab/report/records.js';
import type { RunRecord } from '../../lab/report/run-record.js';
import { summarize } from '../../lab/report/statistics.js';
import { mergesortSweep, mergesortSweepB } from '../fixtures/report/records.js';

const known = new Map<string, readonly string[]>([
  ['mergesort', ['local', 'parallel', 'distributed']],
  ['echo', ['local', 'distributed']],
]);

/** A copy of a record keeping only its first `n` measured samples per mode (and no warm-up). */
function fewRepeats(r: RunRecord, n: number, id: string, startedAt: string): RunRecord {
  const c = JSON.parse(JSON.stringify(r)) as RunRecord;
  c.id = id;
  c.startedAt = startedAt;
  c.repeat = n;
  c.warmup = 0;
  for (const p of c.points) {
    p.samples = p.samples.filter((s) => !s.warmup && s.repeat <= n);
    for (const m of c.modes) p.stats[m] = { total: summarize(p.samples.filter((s) => s.mode === m).map((s) => s.totalMs)), phases: {} };
  }
  return c;
}

const usage = (re: RegExp) => (err: unknown) => hasCode(err, 'E_USAGE') && re.test((err as Error).message);

describe('lab report --check', () => {
  let dir: string;
  let both: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lab-check-'));
    both = join(dir, 'both');
    await writeRecord(both, mergesortSweep);
    await writeRecord(both, mergesortSweepB);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('parses --max and --max-regression, naming what is wrong', () => {
    assert.deepEqual(parseMaxSpec('mergesort:distributed/local=2.0'), { text: 'mergesort:distributed/local=2.0', scenario: 'mergesort', modes: 'distributed/local', bound: 2 });
    assert.throws(() => parseMaxSpec('mergesort:distributed=2'), usage(/expected scenario:modeA\/modeB=RATIO/));
    assert.throws(() => parseMaxSpec('mergesort:distributed/local=fast'), usage(/ratio > 0.*"fast"/));
    assert.throws(() => parseMaxSpec('mergesort:distributed/local=-1'), usage(/ratio > 0/));
    assert.equal(parseRegression('10%'), 0.1);
    assert.equal(parseRegression('0.25'), 0.25);
    assert.throws(() => parseRegression('ten'), usage(/percentage/));
  });

  it('splits modes that hold a slash themselves (celery/distributed)', () => {
    const spec = parseMaxSpec('currency:celery/distributed/distributed=3');
    assert.deepEqual(splitModes(spec, ['distributed', 'celery/distributed']), ['celery/distributed', 'distributed']);
    assert.throws(() => splitModes(parseMaxSpec('mergesort:distrib/local=2'), ['local', 'distributed']), usage(/unknown mode "distrib" of mergesort \(modes: local, distributed\)/));
  });

  it('--max: one line per point of the latest run; a point over the bound fails', async () => {
    // The latest run is B: distributed/local = 1.30, 0.90, 0.40 at n = 1, 2, 4.
    const ok = await runChecks({ dir: both, max: ['mergesort:distributed/local=2.0'], known });
    assert.equal(ok.failed, 0);
    assert.equal(ok.lines.length, 3);
    assert.deepEqual(ok.runs, [mergesortSweepB.id]);
    assert.match(ok.lines[0]!.text, /^✓ mergesort n=1 size=100000: distributed\/local 1\.30× ≤ 2\.00×/);
    const tight = await runChecks({ dir: both, max: ['mergesort:distributed/local=1.2'], known });
    assert.equal(tight.failed, 1);
    assert.match(tight.lines.find((l) => !l.ok)!.text, /^✗ mergesort n=1 size=100000: distributed\/local 1\.30× > 1\.20×/);
  });

  it('an unknown scenario or mode is a usage error (exit 2), before anything is judged', async () => {
    await assert.rejects(runChecks({ dir: both, max: ['mergesrot:distributed/local=2'], known }), usage(/unknown scenario "mergesrot" \(known: echo, mergesort\)/));
    await assert.rejects(runChecks({ dir: both, max: ['mergesort:distributed/remote=2'], known }), usage(/unknown mode "remote"/));
    // a known scenario with no run yet: its declared modes are checked, and the missing run fails the check
    await assert.rejects(runChecks({ dir: both, max: ['echo:distributed/parallel=2'], known }), usage(/unknown mode "parallel" of echo/));
    const none = await runChecks({ dir: both, max: ['echo:distributed/local=2'], known });
    assert.equal(none.failed, 1);
    assert.match(none.lines[0]!.text, /no run of echo in/);
    await assert.rejects(runChecks({ dir: both, max: [], known }), usage(/needs something to check/));
    await assert.rejects(runChecks({ dir: both, max: ['mergesort:distributed/local=2'], maxRegression: '5%', known }), usage(/--max-regression needs --baseline/));
  });

  it('--baseline FILE: a slower run beyond its noise band fails, one line per mode and point', async () => {
    const only = join(dir, 'only-a');
    await writeRecord(only, mergesortSweep);
    const baseFile = join(dir, 'b.json');
    await writeFile(baseFile, JSON.stringify(mergesortSweepB));
    // the latest run (A) against the baseline (B): A's distributed is slower at n=1 and n=4
    const r = await runChecks({ dir: only, max: [], baseline: baseFile, maxRegression: '10%', known });
    const failed = r.lines.filter((l) => !l.ok).map((l) => l.text);
    assert.equal(failed.length, 2, failed.join('\n'));
    assert.match(failed[0]!, /^✗ mergesort n=1 size=100000 distributed: 1\.15× of baseline after-prefetch-fix .*band .*slower than \+10%/);
    assert.match(failed[1]!, /^✗ mergesort n=4 size=100000 distributed: 1\.27× /);
    // the same with a generous threshold passes
    const loose = await runChecks({ dir: only, max: [], baseline: baseFile, maxRegression: '50%', known });
    assert.equal(loose.failed, 0);
  });

  it('--baseline RUN-ID: B against A got faster, so nothing fails; the baseline itself has no newer run', async () => {
    const r = await runChecks({ dir: both, max: [], baseline: mergesortSweep.id, known });
    assert.equal(r.failed, 0);
    assert.equal(r.lines.length, 6);
    const self = await runChecks({ dir: both, max: [], baseline: 'after-prefetch-fix', known });
    assert.equal(self.failed, 1);
    assert.match(self.lines[0]!.text, /no newer run of mergesort/);
    await assert.rejects(runChecks({ dir: both, max: [], baseline: 'no-such-run', known }), usage(/no run with id, id prefix or label 'no-such-run'/));
  });

  it('a baseline file that is not a run record is a usage error naming the file', async () => {
    const notRecord = join(dir, 'package.json');
    await writeFile(notRecord, JSON.stringify({ name: 'x', version: '1.0.0' }));
    await assert.rejects(runChecks({ dir: both, max: [], baseline: notRecord, known }), usage(new RegExp(`--baseline ${notRecord.replace(/[.]/g, '\\.')}: not a run record \\(no "schema" field`)));
    const notJson = join(dir, 'junk.json');
    await writeFile(notJson, 'this is not json');
    await assert.rejects(runChecks({ dir: both, max: [], baseline: notJson, known }), usage(/junk\.json: not a run record \(not valid JSON/));
    await assert.rejects(runChecks({ dir: both, max: [], baseline: join(dir, 'missing.json'), known }), usage(/missing\.json: no such file/));
  });

  it('fewer than three repeats: "not enough repeats to judge", reported and not failed', async () => {
    const one = join(dir, 'one');
    const a1 = fewRepeats(mergesortSweep, 1, 'a1', '2026-11-22T10:00:00.000Z');
    const b1 = fewRepeats(mergesortSweepB, 1, 'b1', '2026-11-22T11:00:00.000Z');
    await writeRecord(one, a1);
    await writeRecord(one, b1);
    const c = compareRuns(a1, b1);
    assert.ok(c.rows.every((row) => row.verdict === NOT_ENOUGH_REPEATS), JSON.stringify(c.rows.map((row) => row.verdict)));
    const r = await runChecks({ dir: one, max: [], baseline: 'a1', known });
    assert.equal(r.failed, 0);
    assert.ok(r.lines.length > 0 && r.lines.every((l) => l.unjudged && l.text.includes(NOT_ENOUGH_REPEATS)));
    // three repeats are enough to judge again
    const a3 = fewRepeats(mergesortSweep, 3, 'a3', '2026-11-22T10:00:00.000Z');
    const b3 = fewRepeats(mergesortSweepB, 3, 'b3', '2026-11-22T11:00:00.000Z');
    assert.ok(compareRuns(a3, b3).rows.every((row) => row.verdict !== NOT_ENOUGH_REPEATS));
  });
});
