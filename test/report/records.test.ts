import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { UsageError } from '../../lab/errors.js';
import { filterScenario, findRecord, lastRuns, latestPerScenario, loadRecords, validateRecord, writeRecord } from '../../lab/report/records.js';
import type { RunRecord } from '../../lab/report/run-record.js';
import { currencyRun, echoRun, mergesortSweep, mergesortSweepB } from '../fixtures/report/records.js';

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'lab-report-records-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

const clone = (r: RunRecord): RunRecord => JSON.parse(JSON.stringify(r)) as RunRecord;

describe('loadRecords', () => {
  it('a missing directory gives no records and no warnings', async () => {
    assert.deepEqual(await loadRecords(join(root, 'does-not-exist')), { records: [], warnings: [] });
  });

  it('an empty directory gives no records and no warnings', async () => {
    const dir = join(root, 'empty');
    await mkdir(dir);
    assert.deepEqual(await loadRecords(dir), { records: [], warnings: [] });
  });

  it('loads valid records oldest first and skips corrupt / foreign / malformed files with one warning each', async () => {
    const dir = join(root, 'mixed');
    await writeRecord(dir, currencyRun);
    await writeRecord(dir, mergesortSweep);
    await writeRecord(dir, echoRun);
    await writeFile(join(dir, 'broken.json'), '{"schema": "lab.run/1", "id": ', 'utf8');
    await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'something-else', version: '1.0.0' }), 'utf8');
    const bad = clone(echoRun) as unknown as { id: string; points: { samples: { totalMs: unknown }[] }[] };
    bad.id = 'bad-shape';
    bad.points[0]!.samples[1]!.totalMs = 'fast';
    await writeFile(join(dir, 'bad-shape.json'), JSON.stringify(bad), 'utf8');
    await writeFile(join(dir, 'array.json'), '[1, 2, 3]', 'utf8');
    await writeFile(join(dir, 'notes.txt'), 'not json, not even looked at', 'utf8');
    await writeFile(join(dir, 'summary.json'), JSON.stringify({ schema: 'lab.report/1', runs: [] }), 'utf8'); // our own output
    await mkdir(join(dir, 'nested'));
    await writeRecord(join(dir, 'nested'), mergesortSweepB); // not recursive

    const { records, warnings } = await loadRecords(dir);
    assert.deepEqual(
      records.map((r) => r.id),
      [mergesortSweep.id, echoRun.id, currencyRun.id],
    );
    assert.equal(warnings.length, 4, warnings.join('\n'));
    const byFile = (name: string): string => {
      const w = warnings.find((x) => x.includes(name));
      assert.ok(w, `a warning naming ${name}: ${warnings.join(' / ')}`);
      assert.ok(!w.includes('\n'), 'warnings are one line');
      return w;
    };
    assert.match(byFile('broken.json'), /not valid JSON/);
    assert.match(byFile('package.json'), /not a run record \(no "schema" field/);
    assert.match(byFile('bad-shape.json'), /points\[0\]\.samples\[1\]\.totalMs: expected a number, got string/);
    assert.match(byFile('array.json'), /not a run record/);
  });

  it('a second file with an id already loaded is skipped with a warning', async () => {
    const dir = join(root, 'dup');
    await writeRecord(dir, echoRun);
    await writeFile(join(dir, 'copy.json'), JSON.stringify(echoRun), 'utf8');
    const { records, warnings } = await loadRecords(dir);
    assert.equal(records.length, 1);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /copy\.json: skipped: duplicate run id/);
  });

  it('a foreign schema is named in the warning', async () => {
    const dir = join(root, 'foreign');
    await mkdir(dir);
    await writeFile(join(dir, 'other.json'), JSON.stringify({ schema: 'someone.else/3' }), 'utf8');
    const { warnings } = await loadRecords(dir);
    assert.deepEqual(warnings, [`${join(dir, 'other.json')}: skipped: not a run record (schema "someone.else/3", expected "lab.run/1")`]);
  });
});

describe('writeRecord', () => {
  it('creates the directory, writes <id>.json atomically and returns its path', async () => {
    const dir = join(root, 'w', 'deep', 'er');
    const path = await writeRecord(dir, mergesortSweep);
    assert.equal(path, join(dir, `${mergesortSweep.id}.json`));
    assert.deepEqual(JSON.parse(await readFile(path, 'utf8')), mergesortSweep);
    assert.deepEqual(await readdir(dir), [`${mergesortSweep.id}.json`], 'no temp files left behind');
    // overwrite in place
    await writeRecord(dir, mergesortSweep);
    assert.deepEqual(await readdir(dir), [`${mergesortSweep.id}.json`]);
  });

  it('refuses an invalid record or an id that is not a file name', async () => {
    const bad = clone(echoRun) as unknown as Record<string, unknown>;
    delete bad.scenario;
    await assert.rejects(writeRecord(join(root, 'w2'), bad as unknown as RunRecord), /scenario: expected a string/);
    await assert.rejects(writeRecord(join(root, 'w2'), { ...echoRun, id: '../escape' }), TypeError);
  });

  it('validateRecord accepts every fixture and additive fields', () => {
    for (const r of [mergesortSweep, mergesortSweepB, echoRun, currencyRun]) assert.equal(validateRecord(r), null, r.id);
    assert.equal(validateRecord({ ...echoRun, futureField: { x: 1 } }), null);
  });
});

describe('selection', () => {
  const all = [mergesortSweep, mergesortSweepB, echoRun, currencyRun];

  it('latest run per scenario, by scenario name', () => {
    assert.deepEqual(
      latestPerScenario(all).map((r) => r.id),
      [currencyRun.id, echoRun.id, mergesortSweepB.id],
    );
  });

  it('--last N: the N most recent, oldest first', () => {
    assert.deepEqual(
      lastRuns(all, 2).map((r) => r.id),
      [echoRun.id, currencyRun.id],
    );
    assert.equal(lastRuns(all, 99).length, 4);
    assert.throws(() => lastRuns(all, 0), UsageError);
  });

  it('filter by scenario', () => {
    assert.deepEqual(
      filterScenario(all, 'mergesort').map((r) => r.id),
      [mergesortSweep.id, mergesortSweepB.id],
    );
    assert.deepEqual(filterScenario(all, 'nope'), []);
  });

  it('find by id, label, or unique id prefix', () => {
    assert.equal(findRecord(all, echoRun.id), echoRun);
    assert.equal(findRecord(all, 'echo-baseline'), echoRun);
    assert.equal(findRecord(all, 'after-prefetch-fix'), mergesortSweepB);
    assert.equal(findRecord(all, '2026-11-23'), currencyRun);
  });

  it('unknown or ambiguous reference → UsageError (exit code 2) naming it', () => {
    assert.throws(
      () => findRecord(all, 'no-such-run', 'reports/'),
      (err: unknown) => err instanceof UsageError && err.exitCode === 2 && err.message.includes("'no-such-run'") && err.message.includes('reports/'),
    );
    assert.throws(
      () => findRecord(all, '2026-11-2'),
      (err: unknown) => err instanceof UsageError && /ambiguous/.test(err.message) && err.message.includes(echoRun.id),
    );
  });
});
