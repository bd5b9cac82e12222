/**
 * `lab run lessons` as a user runs it: on the embedded lab (no lab up), then once on a netns lab whose inventory
 * has one workers host — the lessons' worker groups are `lab worker` processes there, the routing lesson's two
 * groups side by side on that host — and a clean machine after `lab down`.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunRecord } from '../../lab/report/run-record.js';
import type { RoutingOutput } from '../../scenarios/lessons/routing.js';
import { LESSONS } from '../../scenarios/index.js';
import { lab } from '../support/cli.js';
import { etcNetns, netnsList, processesWithEnv } from '../support/lab-clean.js';
import { root, serviceBinaries } from '../support/prereq.js';

const NAMES = LESSONS.map((l) => l.name);

async function records(dir: string): Promise<RunRecord[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.json'));
  return Promise.all(files.map(async (f) => JSON.parse(await readFile(join(dir, f), 'utf8')) as RunRecord));
}

/** The lines `lab run lessons` printed for the lessons: mark and name of each, in order. */
function lessonLines(stdout: string): [string, string][] {
  return stdout
    .split('\n')
    .filter((l) => /^[✓✗] /.test(l))
    .map((l) => [l[0]!, l.split(' ')[1]!]);
}

test('lab run lessons on the embedded lab: one line per lesson, every lesson happened, a record each', { timeout: 180_000 }, async (t) => {
  const home = await mkdtemp(join(tmpdir(), 'lab-lessons-'));
  t.after(() => rm(home, { recursive: true, force: true }));
  const reports = join(home, 'reports');
  const env = { LAB_HOME: home };

  const r = await lab(['run', 'lessons', '--reports', reports], { env, cwd: home });
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  assert.deepEqual(
    lessonLines(r.stdout),
    NAMES.map((n) => ['✓', n]),
  );
  for (const l of LESSONS) assert.ok(r.stdout.includes(`✓ ${l.name} · the book: ${l.lesson} · here: `), `${l.name}: what the book says`);
  assert.match(r.stdout, /· here: get\(timeout=1\) raised TimeoutError after/);
  assert.match(r.stdout, /^8 of 8 lessons happened on the embedded lab · run records in /m);
  const recs = await records(reports);
  assert.deepEqual(recs.map((x) => x.scenario).sort(), [...NAMES].sort());
  for (const rec of recs) {
    assert.equal(rec.verified, true, `${rec.scenario}: ${rec.points[0]?.verify.detail}`);
    assert.equal(rec.lab.kind, 'embedded');
  }

  const json = await lab(['run', 'lessons', 'expires', 'no-worker', '--json', '--reports', reports], { env, cwd: home });
  assert.equal(json.code, 0, json.stderr);
  assert.equal(json.stderr, '', 'nothing on stderr under --json');
  const printed = JSON.parse(json.stdout) as RunRecord[];
  assert.deepEqual(
    printed.map((x) => [x.scenario, x.verified]),
    [
      ['no-worker', true],
      ['expires', true],
    ],
    'the records, in the chapter order',
  );

  const one = await lab(['run', 'no-worker', '--wait', '0.2', '--reports', reports], { env, cwd: home });
  assert.equal(one.code, 0, one.stderr);
  assert.match(one.stdout, /result\.get\(timeout=…\) → celery\.exceptions\.TimeoutError: The operation timed out\./);
  assert.match(one.stdout, /✓ verified: get\(timeout=0\.2\) raised TimeoutError/);

  const exc = await lab(['run', 'exception', '--reports', reports], { env, cwd: home });
  assert.equal(exc.code, 0, exc.stderr);
  assert.match(exc.stdout, /^Traceback \(remote, from celery@.+-booo\):\n(  .*\n)+Exception: Booo!$/m, 'the remote traceback, printed as the book shows it');

  const bad = await lab(['run', 'lessons', 'nope', '--reports', reports], { env, cwd: home });
  assert.equal(bad.code, 2);
  assert.equal(bad.stdout, '');
  assert.match(bad.stderr, /^lab: unknown lesson nope \(lessons: no-worker, purge, /);
  assert.equal(bad.stderr.trim().split('\n').length, 1, 'one line');
});

test('lab run lessons on a netns lab with one workers host: every lesson, its workers on HOST3, nothing left after down', { timeout: 600_000 }, async (t) => {
  if (!(await root(t))) return;
  if (!(await serviceBinaries(t))) return;
  const home = await mkdtemp(join(tmpdir(), 'lab-lessons-netns-'));
  const reports = join(home, 'reports');
  const inventory = join(home, 'hosts.yaml');
  const name = 'e2elessons';
  await writeFile(inventory, [`lab: ${name}`, 'provider: netns', 'subnet: 198.18.243.0/24', 'hosts:', '  HOST1:', '  HOST2:', '  HOST3: { concurrency: 2 }', '  HOST4:', ''].join('\n'));
  const env = { LAB_HOME: home };
  const run = (args: string[]): ReturnType<typeof lab> => lab(args, { env, cwd: home, timeoutMs: 300_000 });
  t.after(async () => {
    await run(['down', '--lab', name]);
    await rm(home, { recursive: true, force: true });
  });

  const up = await run(['up', '--hosts', inventory]);
  assert.equal(up.code, 0, `${up.stdout}\n${up.stderr}`);

  const r = await run(['run', 'lessons', '--reports', reports]);
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  assert.deepEqual(
    lessonLines(r.stdout),
    NAMES.map((n) => ['✓', n]),
  );
  assert.match(r.stdout, new RegExp(`^8 of 8 lessons happened on netns lab "${name}"`, 'm'));
  const recs = await records(reports);
  assert.equal(recs.length, 8);
  for (const rec of recs) {
    assert.equal(rec.verified, true, `${rec.scenario}: ${rec.points[0]?.verify.detail}`);
    assert.equal(rec.lab.kind, 'netns');
    assert.equal(rec.lab.driver, 'controller', 'lessons start workers: the driver runs where the provider is');
  }
  // One workers host: the routing lesson's two groups both run on HOST3, told apart by their node names.
  const routing = recs.find((x) => x.scenario === 'routing')!.points[0]!.output as RoutingOutput;
  assert.deepEqual(routing.groups.cpu.nodes, ['celery@HOST3-cpu']);
  assert.deepEqual(routing.groups.io.nodes, ['celery@HOST3-io']);
  assert.deepEqual(Object.keys(routing.tasks[0]!.ranOn), ['celery@HOST3-cpu']);
  assert.deepEqual(Object.keys(routing.tasks[1]!.ranOn), ['celery@HOST3-io']);
  const noWorker = recs.find((x) => x.scenario === 'no-worker')!.points[0]!.output as { ranOn: string };
  assert.equal(noWorker.ranOn, 'celery@HOST3-late');

  // The groups stopped with their lessons, and the lab is as healthy as before them.
  const status = await run(['status', '--json']);
  assert.equal(status.code, 0, status.stderr);
  assert.equal((JSON.parse(status.stdout) as { healthy: boolean }).healthy, true, status.stdout);
  const ledger = await readFile(join(home, name, 'ledger.jsonl'), 'utf8');
  const live = new Map<string, string>();
  for (const line of ledger.split('\n').filter(Boolean)) {
    const e = JSON.parse(line) as { op: string; key?: string };
    if (e.key) live.set(e.key, e.op);
  }
  assert.deepEqual(
    [...live].filter(([k, op]) => k.includes(':group:') && op !== 'remove'),
    [],
    'no worker group left in the ledger',
  );

  const down = await run(['down']);
  assert.equal(down.code, 0, `${down.stdout}\n${down.stderr}`);
  assert.deepEqual(netnsList().filter((n) => n.includes(name)), []);
  assert.deepEqual(etcNetns().filter((n) => n.includes(name)), []);
  assert.deepEqual(processesWithEnv(`LAB_HOME=${home}`), []);
});
