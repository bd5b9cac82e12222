/**
 * Peer implementations against RabbitMQ + Redis that already run (a services session): each scenario with lab and
 * the chapter's Celery, RQ and Pyro4 programs side by side at small sizes — their workers and drivers processes on
 * this machine, every output verified by the scenario's own verify, the record keyed by implementation and mode —
 * and the bad inputs: a missing package (nothing started), an implementation that does not implement the scenario,
 * the embedded lab, a Pyro HMAC key that is not the workers'.
 */
import test from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { hasCode } from '../../lab/errors.js';
import { runHere } from '../../lab/harness/run-here.js';
import { openServicesSession } from '../../lab/harness/services-session.js';
import { LocalPeerGroups } from '../../lab/harness/local-peer-groups.js';
import { PeerDriver } from '../../lab/harness/peer-driver.js';
import type { RunRecord } from '../../lab/report/run-record.js';
import { PACKAGE_ROOT } from '../../lab/paths.js';
import type { AnyScenario } from '../../scenarios/scenario.js';
import { currencyScenario } from '../../scenarios/currency/currency.js';
import { echoScenario } from '../../scenarios/echo/echo.js';
import { mergesortScenario } from '../../scenarios/mergesort/mergesort.js';
import { RABBITMQ_URL, REDIS_URL, rabbitmq, redis } from '../support/prereq.js';
import { PYTHON, pythonPeers } from '../support/peers.js';

const execFileP = promisify(execFile);

async function ready(t: TestContext): Promise<boolean> {
  return (await rabbitmq(t)) && (await redis(t)) && (await pythonPeers(t));
}

/** Python processes started from this repository's peers/ that are still running (should be none after a run). */
function strayPeers(): string[] {
  try {
    const out = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
    return out
      .split('\n')
      .filter((l) => /python3? .*(celery -A labapp|rq\.cli worker|Pyro4\.naming|worker\.py|driver\.py)/.test(l) && !l.includes('ps -eo'))
      .map((l) => l.trim());
  } catch {
    return [];
  }
}

function run(scenario: AnyScenario, raw: Record<string, unknown>, implementations: string[], o: { repeat?: number; warmup?: number } = {}): Promise<RunRecord> {
  return runHere({
    scenario,
    raw,
    repeat: o.repeat ?? 2,
    warmup: o.warmup ?? 1,
    timeout: 60,
    implementations,
    signal: new AbortController().signal,
    openLab: (s) => openServicesSession(s, { broker: RABBITMQ_URL, backend: REDIS_URL, concurrency: 2, implementations }),
  });
}

function assertKeyed(record: RunRecord, keys: string[]): void {
  assert.equal(record.verified, true, `${record.points[0]?.verify.detail} ${record.error ?? ''}`);
  assert.deepEqual(record.modes, keys);
  for (const k of keys) assert.equal(record.points[0]!.stats[k]?.total.n, 2, `${k} measured twice`);
  assert.deepEqual(
    record.implementations?.map((i) => i.name),
    [...new Set(keys.map((k) => (k.includes('/') ? k.split('/')[0] : 'lab')))],
  );
}

test('echo with lab, celery, rq and pyro on RabbitMQ + Redis: every reply verified, keyed by implementation × mode', { timeout: 180_000 }, async (t) => {
  if (!(await ready(t))) return;
  const record = await run(echoScenario, { message: 'side by side' }, ['lab', 'celery', 'rq', 'pyro']);
  assertKeyed(record, ['local', 'distributed', 'celery/distributed', 'rq/distributed', 'pyro/sync', 'pyro/async']);
  const impls = Object.fromEntries(record.implementations!.map((i) => [i.name, i]));
  assert.equal(impls.celery!.workers?.processes, 1, 'one celery worker with -c 2');
  assert.equal(impls.rq!.workers?.processes, 2, 'two rq workers');
  assert.equal(impls.pyro!.workers?.processes, 2, 'two Pyro daemons');
  assert.deepEqual(impls.pyro!.compareTo, { 'pyro/sync': 'distributed', 'pyro/async': 'distributed' });
  assert.match(impls.rq!.notes!.join(' '), /polls each job's result every 5 ms/);
  assert.equal(impls.rq!.serializer, 'pickle (RQ default)');
  assert.ok((impls.celery!.driver?.startMs ?? 0) > 0, 'the driver start-up is recorded apart');
  assert.equal(record.env.peers?.celery?.celery, '5.2.6');
  assert.match(record.env.peers?.pyro?.python ?? '', /^3\./);
  assert.ok(record.env.peers?.rq?.rq);
  assert.deepEqual(strayPeers(), [], 'no peer process left');

  const fan = await run(echoScenario, { message: 'fan', tasks: '50' }, ['lab', 'celery', 'rq', 'pyro'], { repeat: 2, warmup: 0 });
  assert.equal(fan.verified, true, fan.points[0]?.verify.detail);
  assert.deepEqual(fan.points[0]!.output, { replies: 50, each: 'fan' });
  assert.ok(fan.points[0]!.stats['celery/distributed']!.phases.wait, 'the fan-out has publish and wait phases');
});

test('currency with lab, celery, rq and pyro: every mode of each, rates verified against the quote server', { timeout: 180_000 }, async (t) => {
  if (!(await ready(t))) return;
  const record = await run(currencyScenario, { pairs: ['EURUSD', 'GBPUSD', 'CHFUSD'], latency: '20' }, ['lab', 'celery', 'rq', 'pyro']);
  assertKeyed(record, ['sequential', 'concurrent', 'distributed', 'celery/sequential', 'celery/concurrent', 'celery/distributed', 'rq/distributed', 'pyro/sync', 'pyro/async']);
  const p = record.points[0]!;
  // Three 20 ms quotes: one after another ≥ 60 ms; spread over two workers less.
  assert.ok(p.stats['pyro/sync']!.total.median >= 60, `pyro sync ${p.stats['pyro/sync']!.total.median}`);
  assert.ok(p.stats['pyro/async']!.total.median < p.stats['pyro/sync']!.total.median, 'async beats sync');
  for (const k of record.modes) assert.equal(p.samples.find((s) => s.mode === k && !s.warmup)!.latenciesMs?.length, 3, `${k}: a latency per pair`);
  assert.deepEqual(record.implementations!.find((i) => i.name === 'pyro')!.compareTo, { 'pyro/sync': 'sequential', 'pyro/async': 'distributed' });
});

test('mergesort with lab, celery and rq: the same shuffled sequence from the seed, every result equal to a plain sort', { timeout: 180_000 }, async (t) => {
  if (!(await ready(t))) return;
  const record = await run(mergesortScenario, { size: '20000', n: '2', seed: '7' }, ['lab', 'celery', 'rq']);
  assertKeyed(record, ['local', 'parallel', 'distributed', 'celery/local', 'celery/distributed', 'rq/local', 'rq/distributed']);
  const phases = Object.keys(record.points[0]!.stats['celery/distributed']!.phases);
  assert.deepEqual(phases, ['split', 'publish', 'wait', 'merge']);
  assert.deepEqual(strayPeers(), []);
});

test('a peer alone: mergesort --impl celery — its own baseline and candidate, no lab modes', { timeout: 120_000 }, async (t) => {
  if (!(await ready(t))) return;
  const record = await run(mergesortScenario, { size: '5000', n: '2' }, ['celery'], { repeat: 1, warmup: 0 });
  assert.equal(record.verified, true);
  assert.deepEqual(record.modes, ['celery/local', 'celery/distributed']);
  assert.equal(record.baseline, 'celery/local');
  assert.equal(record.candidate, 'celery/distributed');
});

test('bad input: pyro does not implement mergesort; an unknown implementation; peers on the embedded lab', async () => {
  const signal = new AbortController().signal;
  await assert.rejects(runHere({ scenario: mergesortScenario, raw: {}, timeout: 5, implementations: ['lab', 'pyro'], signal }), /^UsageError: --impl: pyro does not implement mergesort \(implemented by: lab, celery, rq\)$/);
  await assert.rejects(runHere({ scenario: echoScenario, raw: {}, timeout: 5, implementations: ['lab', 'dramatiq'], signal }), /--impl: unknown implementation "dramatiq" \(known: lab, celery, rq, pyro\)/);
  await assert.rejects(runHere({ scenario: echoScenario, raw: {}, timeout: 5, implementations: ['lab', 'celery'], signal }), /--impl lab,celery needs RabbitMQ and Redis that Python can reach.*lab up/);
});

test('a missing package: the host, the package and the install line; nothing started', { timeout: 60_000 }, async (t) => {
  if (!(await rabbitmq(t)) || !(await redis(t))) return;
  // An interpreter without RQ: the python3 on PATH here (pyenv's), else a made-up path.
  let other = '/nonexistent/python3';
  try {
    const { stdout } = await execFileP('sh', ['-c', 'command -v python3']);
    const p = stdout.trim();
    if (p && p !== PYTHON && (await execFileP(p, ['-c', 'import rq']).then(() => false, () => true))) other = p;
  } catch {
    // keep the made-up one
  }
  const err = await runHere({
    scenario: echoScenario,
    raw: {},
    timeout: 5,
    implementations: ['lab', 'rq'],
    signal: new AbortController().signal,
    openLab: (s) => openServicesSession(s, { broker: RABBITMQ_URL, backend: REDIS_URL, implementations: ['lab', 'rq'], python: other }),
  }).then(
    () => null,
    (e: unknown) => e,
  );
  assert.ok(hasCode(err, 'E_PEER_MISSING'), String(err));
  const message = (err as Error).message;
  assert.equal(message.split('\n').length, 1, 'one line');
  assert.match(message, /^--impl rq: missing on \S+: /);
  assert.match(message, /install with: apt-get install -y (python3 )?python3-rq/);
  assert.match(message, /nothing was started$/);
  assert.deepEqual(strayPeers(), []);
});

test('a Pyro HMAC key that is not the workers\': the driver says so in one line', { timeout: 60_000 }, async (t) => {
  if (!(await ready(t))) return;
  const groups = new LocalPeerGroups({ python: PYTHON, peersDir: join(PACKAGE_ROOT, 'peers'), host: { name: 'here', address: '127.0.0.1' }, concurrency: 1, brokerUrl: RABBITMQ_URL, backendUrl: REDIS_URL, quotesUrl: () => null, pyroKey: 'the-right-key' });
  t.after(() => groups.stopAll());
  const endpoint = await groups.start('pyro');
  const dir = join(PACKAGE_ROOT, 'peers', 'pyro');
  const driver = await PeerDriver.start({ impl: 'pyro', python: PYTHON, script: join(dir, 'driver.py'), cwd: dir, env: { ...process.env, ...endpoint.env, PYRO_HMAC_KEY: 'a-wrong-key' } });
  try {
    await assert.rejects(driver.run('echo', 'sync', { message: 'x' }, 30_000), /^RunError: pyro: Pyro refused the connection: message hmac mismatch \(this HMAC key is not the name server's or the workers'\)$/);
  } finally {
    await driver.close();
  }
});
