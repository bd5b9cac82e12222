/** The CLI as a user runs it: `lab run …` on the embedded lab, `lab report`, bad input, Ctrl-C. */
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunRecord } from '../../lab/report/run-record.js';
import { alive, childrenOf, lab, startLab } from '../support/cli.js';

let reports: string;
test.before(async () => {
  reports = await mkdtemp(join(tmpdir(), 'lab-cli-'));
});
test.after(() => rm(reports, { recursive: true, force: true }));

test('lab run mergesort --n 4 --size 100000 --json prints a verified run record and writes it', async () => {
  const r = await lab(['run', 'mergesort', '--n', '4', '--size', '100000', '--json', '--reports', reports]);
  assert.equal(r.code, 0, r.stderr);
  const record = JSON.parse(r.stdout) as RunRecord;
  assert.equal(record.schema, 'lab.run/1');
  assert.equal(record.scenario, 'mergesort');
  assert.deepEqual(record.points[0].params, { n: 4, size: 100000, seed: 1 });
  assert.equal(record.verified, true);
  assert.equal(record.lab.kind, 'embedded');
  assert.ok(record.env.cpus > 0 && record.env.node.startsWith('v'));
  for (const mode of ['local', 'distributed']) {
    const s = record.points[0].stats[mode];
    assert.ok(s.total.median > 0, `${mode} median`);
    assert.equal(s.total.n, 1);
  }
  assert.deepEqual(Object.keys(record.points[0].stats.distributed.phases), ['split', 'serialize', 'publish', 'queue wait', 'compute', 'result transfer', 'merge']);
  const d = record.points[0].samples.find((s) => s.mode === 'distributed')!;
  const sum = Object.values(d.phases).reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(sum - d.totalMs) < Math.max(5, d.totalMs * 0.1), `phases add up to the run: ${sum} vs ${d.totalMs}`);
  assert.deepEqual(await readdir(reports), [`${record.id}.json`]);
  assert.equal(r.stderr, '', 'nothing on stderr under --json');
});

test('lab report --format json lists the run just recorded', async () => {
  const r = await lab(['report', '--format', 'json', '--reports', reports]);
  assert.equal(r.code, 0, r.stderr);
  const text = r.stdout;
  const parsed = JSON.parse(text) as unknown;
  assert.match(text, /"scenario": ?"mergesort"/);
  assert.ok(parsed !== null);
});

test('a table summary for people, with the ratio and the verdict', async () => {
  const r = await lab(['run', 'mergesort', '--n', '2', '--size', '20000', '--repeat', '3', '--reports', reports]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /distributed\/local time [\d.]+× \(speed-up [\d.]+×\) · ✓ verified: 20000 items equal a plain sort/);
  assert.match(r.stdout, /run record: /);
});

test('currency prints each pair and its rate, like the book', async () => {
  const r = await lab(['run', 'currency', 'EURUSD', 'GBPUSD', '--latency', '20', '--reports', reports]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^EURUSD \d\.\d+$/m);
  assert.match(r.stdout, /^GBPUSD \d\.\d+$/m);
});

test('a large --json record reaches a pipe whole (the CLI flushes before it exits)', async () => {
  const r = await lab(['run', 'echo', '--repeat', '3000', '--warmup', '0', '--json', '--reports', reports]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.stdout.length > 256 * 1024, `${r.stdout.length} bytes`);
  assert.equal((JSON.parse(r.stdout) as RunRecord).points[0].stats.distributed.total.n, 3000);
});

test('echo round-trips its message', async () => {
  const r = await lab(['run', 'echo', 'hello lab', '--repeat', '20', '--warmup', '2', '--json', '--reports', reports]);
  assert.equal(r.code, 0, r.stderr);
  const record = JSON.parse(r.stdout) as RunRecord;
  assert.equal(record.points[0].output, 'hello lab');
  assert.equal(record.points[0].stats.distributed.total.n, 20);
});

test('user mistakes: one line on stderr, exit 2, no stack trace, nothing recorded', async () => {
  const before = (await readdir(reports)).length;
  const cases: [string[], RegExp][] = [
    [['run', 'nosuch'], /^lab: unknown scenario "nosuch" \(known: echo, currency, mergesort, ledger, no-worker, .*, lessons, smoke\); a scenario of yours: lab run \.\/my-scenario\.js, or an installed package's name\n$/],
    [['run', 'mergesort', '--n', '0'], /^lab: --n: expected an integer ≥ 1/],
    [['run', 'mergesort', '--n', '-2'], /^lab: --n: expected an integer/],
    [['run', 'mergesort', '--size', 'lots'], /^lab: --size: expected an integer .* got "lots"\n$/],
    [['run', 'currency', 'EURUSD', 'EURO'], /^lab: PAIRS: "EURO" is not six capital letters, like EURUSD\n$/],
    [['run', 'mergesort', '--repeat', '0'], /^lab: --repeat: expected an integer ≥ 1, got 0\n$/],
    [['run', 'mergesort', '--frobnicate'], /^lab: Unknown argument: frobnicate \(see lab run mergesort --help\)\n$/],
    [['report', '--compare', 'nope', 'nada', '--reports', reports], /^lab: .*nope/],
    [[], /^lab: name a command/],
  ];
  for (const [args, re] of cases) {
    const r = await lab([...args, '--reports', reports]);
    assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code}\n${r.stderr}`);
    assert.match(r.stderr, re, args.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /    at /, 'no stack trace');
  }
  assert.equal((await readdir(reports)).length, before);
});

test('a corrupt file in reports/ is skipped with a warning naming it', async () => {
  await writeFile(join(reports, 'broken.json'), '{"schema": "lab.run/1", ');
  const r = await lab(['report', '--reports', reports]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /broken\.json/);
  await rm(join(reports, 'broken.json'));
});

test('Ctrl-C stops the workers and exits promptly, leaving no worker processes', async () => {
  const { child, done } = startLab(['run', 'echo', '--repeat', '1000000', '--pool', 'prefork', '--concurrency', '2', '--reports', reports]);
  // Wait until the prefork children are up.
  let kids: number[] = [];
  for (let i = 0; i < 100 && kids.length < 2; i++) {
    await new Promise((r) => setTimeout(r, 50));
    kids = childrenOf(child.pid!);
  }
  assert.ok(kids.length >= 2, `expected two pool children, saw ${kids.length}`);
  await new Promise((r) => setTimeout(r, 300));
  const t0 = Date.now();
  child.kill('SIGINT');
  const r = await done;
  assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms to stop`);
  assert.equal(r.code, 130, r.stderr);
  assert.match(r.stderr, /stopping/);
  for (const pid of kids) assert.equal(alive(pid), false, `pool child ${pid} survived`);
});
