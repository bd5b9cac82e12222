/** A sweep on the embedded lab as a user runs it, then the reports it feeds (table, csv, html, compare). */
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunRecord } from '../../lab/report/run-record.js';
import { lab } from '../support/cli.js';

test('lab run mergesort --n 1,2 --size 2000,4000 sweeps every point, interleaving the modes', { timeout: 120_000 }, async (t) => {
  const reports = await mkdtemp(join(tmpdir(), 'lab-sweep-'));
  t.after(() => rm(reports, { recursive: true, force: true }));
  const r = await lab(['run', 'mergesort', '--n', '1,2', '--size', '2000,4000', '--repeat', '3', '--warmup', '1', '--label', 'before', '--json', '--reports', reports]);
  assert.equal(r.code, 0, r.stderr);
  const rec = JSON.parse(r.stdout) as RunRecord;
  assert.deepEqual(rec.params, { n: [1, 2], size: [2000, 4000], seed: 1 });
  assert.deepEqual(
    rec.points.map((p) => [p.params.n, p.params.size]),
    [
      [1, 2000],
      [1, 4000],
      [2, 2000],
      [2, 4000],
    ],
  );
  for (const p of rec.points) {
    // warm-up then measured, modes alternating within each repeat: local, parallel, distributed, local, …
    assert.deepEqual(
      p.samples.map((s) => [s.mode, s.repeat, s.warmup]),
      [0, 1, 2, 3].flatMap((i) => [
        ['local', i, i === 0],
        ['parallel', i, i === 0],
        ['distributed', i, i === 0],
      ]),
    );
    assert.equal(p.stats.local.total.n, 3);
    assert.ok(p.stats.distributed.total.p95 >= p.stats.distributed.total.median);
    assert.ok(p.verify.ok);
  }
  const second = await lab(['run', 'mergesort', '--n', '1,2', '--size', '2000,4000', '--repeat', '3', '--label', 'after', '--json', '--reports', reports]);
  assert.equal(second.code, 0, second.stderr);

  const csv = await lab(['report', '--format', 'csv', '--last', '1', '--reports', reports]);
  assert.equal(csv.code, 0, csv.stderr);
  assert.ok(csv.stdout.split('\n').length > 8, 'a row per point and mode');

  const cmp = await lab(['report', '--compare', 'before', 'after', '--reports', reports]);
  assert.equal(cmp.code, 0, cmp.stderr);
  assert.match(cmp.stdout, /faster|slower|within noise/);

  const html = join(reports, 'sweep.html');
  const h = await lab(['report', '--format', 'html', '--out', html, '--reports', reports]);
  assert.equal(h.code, 0, h.stderr);
  const page = await readFile(html, 'utf8');
  assert.match(page, /data-chart="time-vs-param"/);
  assert.match(page, /data-chart="phases"/);
  assert.doesNotMatch(page, /<script[^>]+src=|https?:\/\/(?!www\.w3\.org)/, 'self-contained: no external resources');
});
