/**
 * `lab run --impl` on a netns lab, as a user runs it: the chapter's Celery, RQ and Pyro4 programs beside the
 * bundled runtime — their workers started on HOST3 for the run (Pyro's name server on HOST1), their drivers on
 * HOST4 with lab's — every output verified, the record keyed by implementation × mode; a missing package refused
 * before anything starts; no secret in the ledger; nothing left after the runs and after `lab down`.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunRecord } from '../../lab/report/run-record.js';
import type { LabState } from '../../lab/topology/state.js';
import { lab } from '../support/cli.js';
import { etcNetns, netnsList, processesWithEnv } from '../support/lab-clean.js';
import { root, serviceBinaries } from '../support/prereq.js';
import { PYTHON, pythonPeers } from '../support/peers.js';

async function newest(dir: string, scenario: string): Promise<RunRecord> {
  const files = (await readdir(dir)).filter((f) => f.endsWith(`.json`) && f.includes(`-${scenario}-`)).sort();
  return JSON.parse(await readFile(join(dir, files[files.length - 1]!), 'utf8')) as RunRecord;
}

/** Ledger keys of worker groups that were started and not removed. */
async function liveGroups(ledgerFile: string): Promise<string[]> {
  const live = new Map<string, string>();
  for (const line of (await readFile(ledgerFile, 'utf8')).split('\n').filter(Boolean)) {
    const e = JSON.parse(line) as { op: string; key?: string };
    if (e.key) live.set(e.key, e.op);
  }
  return [...live].filter(([k, op]) => k.includes(':group:') && op !== 'remove').map(([k]) => k);
}

test('lab run --impl on a netns lab: currency with lab, celery, rq, pyro; mergesort with lab, celery, rq; echo; clean after', { timeout: 900_000 }, async (t) => {
  if (!(await root(t))) return;
  if (!(await serviceBinaries(t))) return;
  if (!(await pythonPeers(t))) return;
  const home = await mkdtemp(join(tmpdir(), 'lab-impls-'));
  const reports = join(home, 'reports');
  const inventory = join(home, 'hosts.yaml');
  const name = 'e2eimpls';
  await writeFile(inventory, [`lab: ${name}`, 'provider: netns', 'subnet: 198.18.236.0/24', 'hosts:', '  HOST1:', '  HOST2:', '  HOST3: { concurrency: 2 }', '  HOST4:', ''].join('\n'));
  const env = { LAB_HOME: home, LAB_PYTHON: PYTHON };
  const run = (args: string[], extra: NodeJS.ProcessEnv = {}): ReturnType<typeof lab> => lab(args, { env: { ...env, ...extra }, cwd: home, timeoutMs: 400_000 });
  t.after(async () => {
    await run(['down', '--lab', name]);
    await rm(home, { recursive: true, force: true });
  });

  const up = await run(['up', '--hosts', inventory]);
  assert.equal(up.code, 0, `${up.stdout}\n${up.stderr}`);
  const stateFile = join(home, name, 'state.json');
  const ledgerFile = join(home, name, 'ledger.jsonl');
  const state = JSON.parse(await readFile(stateFile, 'utf8')) as LabState;
  const pyroSecret = state.credentials.pyro?.hmacSecret;
  assert.ok(pyroSecret && pyroSecret.length >= 32, 'lab up made a Pyro HMAC key');
  assert.equal((await stat(stateFile)).mode & 0o777, 0o600);

  // A host without the package: named with the install line, exit 2, nothing started.
  const missing = await run(['run', 'currency', '--impl', 'lab,rq', '--reports', reports], { LAB_PYTHON: '/nonexistent/python3' });
  assert.equal(missing.code, 2, `${missing.stdout}\n${missing.stderr}`);
  assert.match(missing.stderr.trim().split('\n').pop()!, /^lab: --impl lab,rq: missing on HOST3: \/nonexistent\/python3 not found; on HOST4: \/nonexistent\/python3 not found — install with: apt-get install -y python3 python3-rq python3-redis \(on HOST3, HOST4\) \(or point LAB_PYTHON at an interpreter that has them; it is \/nonexistent\/python3\); nothing was started$/);
  assert.deepEqual(await liveGroups(ledgerFile), []);
  // Not implemented, in one line.
  const nope = await run(['run', 'mergesort', '--impl', 'lab,pyro', '--reports', reports]);
  assert.equal(nope.code, 2);
  assert.equal(nope.stderr, 'lab: --impl: pyro does not implement mergesort (implemented by: lab, celery, rq)\n');

  const currency = await run(['run', 'currency', '--impl', 'lab,celery,rq,pyro', '--latency', '20', '--reports', reports]);
  assert.equal(currency.code, 0, `${currency.stdout}\n${currency.stderr}`);
  assert.match(currency.stdout, /│ impl +│ mode +│ +median │/);
  assert.match(currency.stdout, /│ pyro +│ async +│/);
  assert.match(currency.stderr, /lab: starting pyro workers on HOST3 \(name server on HOST1\)/);
  const c = await newest(reports, 'currency');
  assert.equal(c.verified, true, `${c.points[0]?.verify.detail} ${c.error ?? ''}`);
  assert.equal(c.lab.kind, 'netns');
  assert.deepEqual(c.modes, ['sequential', 'concurrent', 'distributed', 'celery/sequential', 'celery/concurrent', 'celery/distributed', 'rq/distributed', 'pyro/sync', 'pyro/async']);
  for (const m of c.modes) assert.equal(c.points[0]!.stats[m]?.total.n, 1, m);
  assert.deepEqual(c.implementations?.map((i) => i.name), ['lab', 'celery', 'rq', 'pyro']);
  for (const i of c.implementations!.slice(1)) {
    assert.deepEqual(i.workers?.hosts, ['HOST3'], `${i.name} workers on HOST3`);
    assert.equal(i.driver?.host, 'HOST4', `${i.name} driver on the master host`);
  }
  assert.equal(c.implementations![2]!.workers?.processes, 2, 'rq worker × concurrency 2');
  assert.equal(c.implementations![3]!.workers?.processes, 2, 'two Pyro daemons');
  assert.deepEqual(c.implementations![3]!.compareTo, { 'pyro/sync': 'sequential', 'pyro/async': 'distributed' });
  assert.equal(c.env.peers?.celery?.celery, '5.2.6');
  assert.equal(c.env.peers?.pyro?.pyro4, '4.82');
  assert.deepEqual(await liveGroups(ledgerFile), [], 'the peers\' workers stopped after the run');
  // The run's own queues went with them: Celery's queue and exchange on RabbitMQ, RQ's queue and workers in Redis.
  const celeryQueue = /-Q (lab-celery-[0-9a-f]+)/.exec(c.implementations![1]!.workers!.command)![1]!;
  const rqQueue = /worker (lab-rq-[0-9a-f]+)/.exec(c.implementations![2]!.workers!.command)![1]!;
  const probe = [
    'import os, sys, redis',
    'from kombu import Connection',
    'ch = Connection(os.environ["LAB_BROKER_URL"]).channel()',
    'left = []',
    'for what, fn in (("queue", ch.queue_declare), ("exchange", ch.exchange_declare)):',
    '    try:',
    '        fn(sys.argv[1], passive=True) if what == "queue" else fn(sys.argv[1], "direct", passive=True)',
    '        left.append(what)',
    '    except Exception:',
    '        ch = Connection(os.environ["LAB_BROKER_URL"]).channel()',
    'r = redis.Redis.from_url(os.environ["LAB_BACKEND_URL"])',
    'left += [k.decode() for k in r.keys("rq:*")]',
    'print(left)',
  ].join('\n');
  const left = await run(['exec', 'HOST3', '--', PYTHON, '-c', probe, celeryQueue, rqQueue]);
  assert.equal(left.code, 0, left.stderr);
  assert.equal(left.stdout.trim(), '[]', `left on the broker and in Redis after the run (${celeryQueue}, ${rqQueue})`);

  const ms = await run(['run', 'mergesort', '--impl', 'lab,celery,rq', '--size', '20000', '--n', '2', '--reports', reports]);
  assert.equal(ms.code, 0, `${ms.stdout}\n${ms.stderr}`);
  const m = await newest(reports, 'mergesort');
  assert.equal(m.verified, true, `${m.points[0]?.verify.detail} ${m.error ?? ''}`);
  assert.deepEqual(m.modes, ['local', 'parallel', 'distributed', 'celery/local', 'celery/distributed', 'rq/local', 'rq/distributed']);
  assert.deepEqual(Object.keys(m.points[0]!.stats['rq/distributed']!.phases), ['split', 'publish', 'wait', 'merge']);
  assert.match(m.points[0]!.verify.detail, /20000 items equal a plain sort/);

  const echo = await run(['run', 'echo', '--impl', 'lab,celery,rq,pyro', '--repeat', '20', '--warmup', '2', '--reports', reports]);
  assert.equal(echo.code, 0, `${echo.stdout}\n${echo.stderr}`);
  const e = await newest(reports, 'echo');
  assert.equal(e.verified, true);
  for (const k of ['distributed', 'celery/distributed', 'rq/distributed', 'pyro/sync', 'pyro/async']) assert.equal(e.points[0]!.stats[k]?.total.n, 20, k);

  // The report of the last runs shows the matrix.
  const report = await run(['report', '--reports', reports, '--scenario', 'currency']);
  assert.equal(report.code, 0, report.stderr);
  assert.match(report.stdout, /currency — implementation × mode, median time \(× lab\)/);

  // No secret was written where commands and logs are recorded.
  const ledger = await readFile(ledgerFile, 'utf8');
  for (const secret of [pyroSecret, state.credentials.rabbitmq.password, state.credentials.redis.password]) assert.ok(!ledger.includes(secret), 'no secret in the ledger');
  assert.deepEqual(await liveGroups(ledgerFile), []);

  const down = await run(['down']);
  assert.equal(down.code, 0, `${down.stdout}\n${down.stderr}`);
  assert.deepEqual(netnsList().filter((n) => n.includes(name)), []);
  assert.deepEqual(etcNetns().filter((n) => n.includes(name)), []);
  assert.deepEqual(processesWithEnv(`LAB_HOME=${home}`), []);
});
