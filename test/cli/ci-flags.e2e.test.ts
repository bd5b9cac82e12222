/**
 * The CI flags through the real command: --smoke, --junit (a folder made, a folder refused), --tap, lab run smoke,
 * lab report --check and its bad input (exit 2, the scenario, mode or file named) — on the embedded lab.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { lab } from '../support/cli.js';

describe('lab run --smoke --junit --tap, lab run smoke, lab report --check', () => {
  let dir: string;
  let reports: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lab-ci-flags-'));
    reports = join(dir, 'reports');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('--smoke runs small: one measured repeat after one warm-up, the smoke parameters; --junit makes its folder', { timeout: 120_000 }, async () => {
    const junit = join(dir, 'deep', 'er', 'junit.xml');
    const r = await lab(['run', 'mergesort', '--smoke', '--embedded', '--junit', junit, '--reports', reports, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const rec = JSON.parse(r.stdout) as { repeat: number; warmup: number; points: { params: Record<string, unknown> }[] };
    assert.equal(rec.repeat, 1);
    assert.equal(rec.warmup, 1);
    assert.deepEqual(rec.points[0]!.params, { n: 4, size: 20000, seed: 1 });
    const xml = await readFile(junit, 'utf8');
    assert.match(xml, /<testsuites name="lab" tests="3" failures="0"/);
    assert.deepEqual([...xml.matchAll(/<testcase classname="lab\.mergesort" name="([^"]+)"/g)].map((m) => m[1]), ['lab local n=4 size=20000 seed=1', 'lab parallel n=4 size=20000 seed=1', 'lab distributed n=4 size=20000 seed=1']);
    // flags given win over the smoke settings
    const given = await lab(['run', 'mergesort', '--smoke', '--size', '5000', '--repeat', '2', '--embedded', '--reports', reports, '--json']);
    assert.equal(given.code, 0, given.stderr);
    const g = JSON.parse(given.stdout) as { repeat: number; points: { params: Record<string, unknown> }[] };
    assert.equal(g.repeat, 2);
    assert.equal(g.points[0]!.params.size, 5000);
  });

  it('--junit naming a folder: one clear error before anything runs (exit 2); --tap with --json: exit 2', async () => {
    const folder = join(dir, 'a-folder');
    await mkdir(folder);
    const before = (await readdir(reports).catch(() => [])).length;
    const r = await lab(['run', 'echo', '--smoke', '--embedded', '--junit', folder, '--reports', reports]);
    assert.equal(r.code, 2);
    assert.equal(r.stderr.trim(), `lab: --junit ${folder}: is a directory; give a file path, e.g. ${folder}/junit.xml`);
    assert.equal((await readdir(reports).catch(() => [])).length, before, 'nothing ran');
    const both = await lab(['run', 'echo', '--smoke', '--embedded', '--tap', '--json', '--reports', reports]);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /--tap and --json both write to stdout/);
  });

  it('--tap: TAP on stdout, the summary on stderr', { timeout: 60_000 }, async () => {
    const r = await lab(['run', 'echo', '--smoke', '--embedded', '--tap', '--reports', reports]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^TAP version 13\n1\.\.2\nok 1 - echo: lab local message=Python rocks! tasks=20\n/);
    assert.match(r.stdout, /\n# tests 2\n# pass 2\n# fail 0\n$/);
    assert.match(r.stderr, /run record: /);
  });

  it('lab run smoke: six scenarios, one line each, a JUnit suite each', { timeout: 180_000 }, async () => {
    const junit = join(dir, 'smoke', 'junit.xml');
    const r = await lab(['run', 'smoke', '--embedded', '--junit', junit, '--reports', reports]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.deepEqual(lines.slice(0, 6).map((l) => l.split(' ').slice(0, 2).join(' ')), ['✓ echo', '✓ currency', '✓ mergesort', '✓ exception', '✓ retry', '✓ purge']);
    assert.match(lines[6]!, /^smoke: 6 of 6 passed on the embedded lab in [\d.]+ s · run records in /);
    const xml = await readFile(junit, 'utf8');
    assert.deepEqual([...xml.matchAll(/<testsuite name="([^"]+)"/g)].map((m) => m[1]), ['echo', 'currency', 'mergesort', 'exception', 'retry', 'purge']);
    assert.match(xml, /failures="0"/);
  });

  it('lab report --check: a bound that holds (exit 0), one that does not (exit 1, one ✗ line), bad input (exit 2)', { timeout: 60_000 }, async () => {
    const ok = await lab(['report', '--check', '--reports', reports, '--max', 'mergesort:distributed/local=1000']);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /^✓ mergesort n=4 size=\d+ seed=1: distributed\/local [\d.]+× ≤ 1000×/m);
    const tight = await lab(['report', '--check', '--reports', reports, '--max', 'mergesort:distributed/local=0.0001']);
    assert.equal(tight.code, 1);
    assert.equal(tight.stdout.split('\n').filter((l) => l.startsWith('✗ ')).length, 1);
    assert.match(tight.stdout, /1 check failed/);

    const unknown = await lab(['report', '--check', '--reports', reports, '--max', 'mergesrot:distributed/local=2']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /^lab: --max mergesrot:distributed\/local=2: unknown scenario "mergesrot" \(known: /);
    const mode = await lab(['report', '--check', '--reports', reports, '--max', 'mergesort:distributed/remote=2']);
    assert.equal(mode.code, 2);
    assert.match(mode.stderr, /unknown mode "remote" of mergesort \(modes: local, parallel, distributed\)/);
    const notRecord = join(dir, 'package.json');
    await writeFile(notRecord, '{"name": "not-a-run"}');
    const base = await lab(['report', '--check', '--reports', reports, '--baseline', notRecord]);
    assert.equal(base.code, 2);
    assert.equal(base.stderr.trim(), `lab: --baseline ${notRecord}: not a run record (no "schema" field; expected "lab.run/1")`);
    const loose = await lab(['report', '--reports', reports, '--max', 'mergesort:distributed/local=2']);
    assert.equal(loose.code, 2);
    assert.match(loose.stderr, /--max is for --check/);
    // single-repeat smoke runs against each other: not enough repeats to judge, not failed
    const smokeRuns = (await readdir(reports)).filter((f) => f.includes('-echo-')).sort();
    const againstFirst = await lab(['report', '--check', '--reports', reports, '--baseline', join(reports, smokeRuns[0]!)]);
    assert.equal(againstFirst.code, 0, againstFirst.stdout + againstFirst.stderr);
    assert.match(againstFirst.stdout, /^\? echo .* — not enough repeats to judge/m);
  });
});
