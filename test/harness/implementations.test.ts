/**
 * Implementations without servers: which implementation runs which modes of which scenario (and the one-line
 * refusals), the hosts' preflight message, the peers' worker recipes (no URL or secret on a command line), and the
 * refusal of docker hosts before anything is touched.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { hasCode } from '../../lab/errors.js';
import { implementationsOf, parseImplementations, planImplementations } from '../../lab/harness/implementations.js';
import { preflightPeers } from '../../lab/harness/peer-preflight.js';
import { runPeersOnLab } from '../../lab/harness/peers-on-lab.js';
import type { OpenLab } from '../../lab/orchestrator/lab-ref.js';
import { ProviderError } from '../../lab/errors.js';
import { peerQueue, peerRecipe } from '../../lab/services/worker-group.js';
import type { PeerName } from '../../lab/services/worker-group.js';
import { currencyScenario } from '../../scenarios/currency/currency.js';
import { echoScenario } from '../../scenarios/echo/echo.js';
import { mergesortScenario } from '../../scenarios/mergesort/mergesort.js';
import { LESSONS } from '../../scenarios/index.js';

test('who implements what: lab everything, celery and rq the three programs, pyro echo and currency', () => {
  assert.deepEqual(implementationsOf(echoScenario), ['lab', 'celery', 'rq', 'pyro']);
  assert.deepEqual(implementationsOf(currencyScenario), ['lab', 'celery', 'rq', 'pyro']);
  assert.deepEqual(implementationsOf(mergesortScenario), ['lab', 'celery', 'rq']);
  for (const l of LESSONS) assert.deepEqual(implementationsOf(l), ['lab']);
});

test('a plan: lab keeps its mode names, peers are <impl>/<mode>, pyro compared across names', () => {
  const plan = planImplementations(currencyScenario, ['lab', 'celery', 'rq', 'pyro']);
  assert.deepEqual(
    plan.map((i) => i.modes.map((m) => m.key)),
    [['sequential', 'concurrent', 'distributed'], ['celery/sequential', 'celery/concurrent', 'celery/distributed'], ['rq/distributed'], ['pyro/sync', 'pyro/async']],
  );
  assert.deepEqual(plan[3]!.compareTo, { 'pyro/sync': 'sequential', 'pyro/async': 'distributed' });
  assert.deepEqual(plan[2]!.compareTo, { 'rq/distributed': 'distributed' });
  assert.deepEqual([plan[3]!.baseline, plan[3]!.candidate], ['pyro/sync', 'pyro/async']);
  assert.deepEqual(planImplementations(echoScenario, ['pyro'])[0]!.compareTo, { 'pyro/sync': 'distributed', 'pyro/async': 'distributed' });
  // mergesort's parallel mode is lab's alone: celery's local and distributed compare with lab's namesakes.
  assert.deepEqual(planImplementations(mergesortScenario, ['celery'])[0]!.compareTo, { 'celery/local': 'local', 'celery/distributed': 'distributed' });
});

test('--impl parsing and refusals, each in one line', () => {
  assert.deepEqual(parseImplementations('lab, celery,rq,celery'), ['lab', 'celery', 'rq']);
  assert.deepEqual(parseImplementations(['lab,pyro', 'rq']), ['lab', 'pyro', 'rq']);
  assert.throws(() => parseImplementations(''), /^UsageError: --impl: name at least one implementation \(lab, celery, rq, pyro\)$/);
  assert.throws(() => planImplementations(mergesortScenario, ['lab', 'pyro']), /^UsageError: --impl: pyro does not implement mergesort \(implemented by: lab, celery, rq\)$/);
  assert.throws(() => planImplementations(echoScenario, ['huey']), /^UsageError: --impl: unknown implementation "huey" \(known: lab, celery, rq, pyro\); echo is implemented by lab, celery, rq, pyro$/);
  assert.throws(() => planImplementations(LESSONS[0]!, ['lab', 'celery']), /--impl: celery does not implement no-worker \(implemented by: lab\)/);
});

test('preflight: every host and package missing, the install line, nothing else', async () => {
  const versions = await preflightPeers([{ host: 'HOST3', impls: ['celery'] }], '/usr/bin/python3', async () => ({ exitCode: 0, stdout: '{"versions": {"python": "3.11.2", "celery": "5.2.6", "redis": "4.3.4"}, "missing": []}\n', stderr: '' }), '--impl celery');
  assert.deepEqual(versions, { HOST3: { python: '3.11.2', celery: '5.2.6', redis: '4.3.4' } });

  const exec = async (host: string, argv: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }> => {
    if (host === 'HOST1') throw new ProviderError('command not found: /usr/bin/python3', { host, code: 'E_COMMAND_NOT_FOUND' });
    const missing = argv.slice(3).filter((m) => host === 'HOST3' || m === 'Pyro4').map((m) => [m, `ModuleNotFoundError: No module named '${m}'`]);
    return { exitCode: 0, stdout: JSON.stringify({ versions: { python: '3.11.2' }, missing }), stderr: '' };
  };
  const targets: { host: string; impls: PeerName[] }[] = [
    { host: 'HOST4', impls: ['rq', 'pyro'] },
    { host: 'HOST3', impls: ['rq'] },
    { host: 'HOST1', impls: ['pyro'] },
  ];
  const err = await preflightPeers(targets, '/usr/bin/python3', exec, '--impl lab,rq,pyro').then(
    () => null,
    (e: unknown) => e,
  );
  assert.ok(hasCode(err, 'E_PEER_MISSING'));
  assert.equal((err as { exitCode: number }).exitCode, 2);
  assert.equal(
    (err as Error).message,
    "--impl lab,rq,pyro: missing on HOST1: /usr/bin/python3 not found; on HOST3: python3-rq (import rq: ModuleNotFoundError: No module named 'rq'), python3-redis (import redis: ModuleNotFoundError: No module named 'redis'); on HOST4: python3-pyro4 (import Pyro4: ModuleNotFoundError: No module named 'Pyro4') — install with: apt-get install -y python3 python3-pyro4 python3-rq python3-redis (on HOST1, HOST3, HOST4); nothing was started",
  );
});

test('recipes: the chapter\'s commands, the lab\'s URLs and the Pyro key in the environment only', () => {
  const secrets = ['s3cret-amqp', 's3cret-redis', 'the-pyro-key'];
  const input = {
    run: 'abc123',
    python: '/usr/bin/python3',
    workers: [
      { name: 'HOST3', address: '198.18.0.13', concurrency: 2, peersDir: '/opt/lab/peers' },
      { name: 'HOST5', address: '198.18.0.15', concurrency: 1, peersDir: '/opt/lab/peers' },
    ],
    nameServer: { name: 'HOST1', address: '198.18.0.11', concurrency: 1, peersDir: '/opt/lab/peers', workDir: '/var/lib/lab/book/HOST1' },
    brokerUrl: 'amqp://lab:s3cret-amqp@HOST1:5672/book',
    backendUrl: 'redis://:s3cret-redis@HOST2:6379/0',
    quotesUrl: 'http://HOST4:8000/d/quotes.csv?s={}=X&f=p',
    pyroKey: 'the-pyro-key',
  };
  const celery = peerRecipe({ impl: 'celery', ...input });
  const cw = celery.workers(null);
  assert.deepEqual(cw.map((p) => [p.host, p.argv.join(' '), p.cwd]), [
    ['HOST3', `/usr/bin/python3 -m celery -A labapp worker -Q lab-celery-abc123 -c 2 -n celery-abc123@HOST3 --loglevel info --without-mingle --without-gossip --without-heartbeat`, '/opt/lab/peers/celery'],
    ['HOST5', `/usr/bin/python3 -m celery -A labapp worker -Q lab-celery-abc123 -c 1 -n celery-abc123@HOST5 --loglevel info --without-mingle --without-gossip --without-heartbeat`, '/opt/lab/peers/celery'],
  ]);
  assert.match('[2026-12-01 15:35:44,214: INFO/MainProcess] celery-abc123@HOST3 ready.', cw[0]!.ready);
  assert.deepEqual(celery.driverEnv(null), { LAB_QUEUE: peerQueue('celery', 'abc123') });
  assert.equal(cw[0]!.env.LAB_BROKER_URL, input.brokerUrl);

  const rq = peerRecipe({ impl: 'rq', ...input });
  const rw = rq.workers(null);
  assert.deepEqual(rw.map((p) => p.argv.slice(1).join(' ')), ['-m rq.cli worker lab-rq-abc123 --name rq-abc123-HOST3-1', '-m rq.cli worker lab-rq-abc123 --name rq-abc123-HOST3-2', '-m rq.cli worker lab-rq-abc123 --name rq-abc123-HOST5-1']);
  assert.equal(rw[0]!.env.RQ_REDIS_URL, input.backendUrl);
  assert.match('15:36:03 *** Listening on lab-rq-abc123...', rw[0]!.ready);

  const pyro = peerRecipe({ impl: 'pyro', ...input });
  assert.deepEqual(pyro.first!.argv, ['/usr/bin/python3', '-m', 'Pyro4.naming', '-n', '198.18.0.11', '-p', '0', '-x']);
  assert.equal(pyro.first!.host, 'HOST1');
  assert.equal(pyro.first!.cwd, '/var/lib/lab/book/HOST1', 'the name server needs nothing of peers/ (a broker-only ssh host has no copy of lab)');
  const m = pyro.first!.ready.exec('Not starting broadcast server for localhost.\nNS running on 198.18.0.11:41234 (198.18.0.11)\n');
  assert.equal(m?.[1], '41234');
  const pw = pyro.workers(m);
  assert.deepEqual(pw.map((p) => p.env.LAB_PYRO_NAME), ['lab.abc123.HOST3.1', 'lab.abc123.HOST3.2', 'lab.abc123.HOST5.1']);
  assert.deepEqual([pw[0]!.env.LAB_PYRO_HOST, pw[0]!.env.LAB_PYRO_NS_PORT, pw[0]!.env.PYRO_HMAC_KEY], ['198.18.0.13', '41234', 'the-pyro-key']);
  assert.deepEqual(pyro.driverEnv(m), { LAB_PYRO_NS_HOST: '198.18.0.11', LAB_PYRO_NS_PORT: '41234', LAB_PYRO_PREFIX: 'lab.abc123.' });
  assert.equal(pyro.first!.env.PYRO_HMAC_KEY, 'the-pyro-key');

  for (const r of [celery, rq, pyro]) {
    for (const p of [...(r.first ? [r.first] : []), ...r.workers(m), ...(r.cleanup ? [r.cleanup] : [])]) {
      for (const s of secrets) assert.ok(!p.argv.join(' ').includes(s), `no secret in ${p.argv.join(' ')}`);
      assert.equal(p.env.PYTHONUNBUFFERED, '1', 'log lines reach the log file as they happen');
    }
    for (const s of secrets) assert.ok(!r.command.includes(s));
  }
});

test('docker hosts are refused before anything is touched', async () => {
  const touched: string[] = [];
  const fake = new Proxy({ topology: { provider: 'docker' } } as unknown as OpenLab, {
    get(target, prop) {
      if (prop === 'topology') return (target as unknown as { topology: unknown }).topology;
      touched.push(String(prop));
      return undefined;
    },
  });
  await assert.rejects(
    runPeersOnLab({ lab: fake, scenario: currencyScenario, raw: {}, passThrough: [], implementations: ['lab', 'celery'], signal: new AbortController().signal, stderr: process.stderr }),
    /^UsageError: --impl lab,celery: the peers do not run on docker hosts yet — the role images carry no Python \(a later issue\); use a netns, local or ssh lab$/,
  );
  assert.deepEqual(touched, []);
});

test('the long-lived driver protocol: ready line, samples, a failed sample, noise skipped, a driver that dies', async (t) => {
  const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { PeerDriver } = await import('../../lab/harness/peer-driver.js');
  const dir = await mkdtemp(join(tmpdir(), 'lab-driver-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  // A stand-in driver in JavaScript (run by node instead of python): the same protocol on stdin/stdout.
  const script = join(dir, 'driver.mjs');
  await writeFile(
    script,
    [
      "import { createInterface } from 'node:readline';",
      "console.log('a library printing at import');",
      "console.log(JSON.stringify({ ready: true, info: { python: '3.11.2', fake: '1' } }));",
      'for await (const line of createInterface({ input: process.stdin })) {',
      '  const r = JSON.parse(line);',
      "  if (r.mode === 'boom') { console.log(JSON.stringify({ error: 'job 1 failed: Exception: Booo!' })); continue; }",
      "  if (r.mode === 'die') { console.error('Traceback: the driver fell over'); process.exit(3); }",
      "  console.log('noise between samples');",
      "  console.log(JSON.stringify({ output: r.params.message, total_ms: 1.5, phases: { 'round-trip': 1.5 }, info: { polls: 2 } }));",
      '}',
    ].join('\n'),
  );
  const d = await PeerDriver.start({ impl: 'fake', python: process.execPath, script, cwd: dir, env: process.env });
  try {
    assert.deepEqual(d.info, { python: '3.11.2', fake: '1' });
    assert.ok(d.startMs > 0);
    const s = await d.run('echo', 'distributed', { message: 'hi' }, 10_000);
    assert.deepEqual([s.output, s.totalMs, s.phases, s.info], ['hi', 1.5, { 'round-trip': 1.5 }, { polls: 2 }]);
    await assert.rejects(d.run('echo', 'boom', {}, 10_000), /^RunError: fake: job 1 failed: Exception: Booo!$/);
    assert.equal((await d.run('echo', 'distributed', { message: 'again' }, 10_000)).output, 'again', 'usable after a failed sample');
    const err = await d.run('echo', 'die', {}, 10_000).then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(hasCode(err, 'E_PEER_DRIVER'), String(err));
    assert.match((err as Error).message, /^fake: its driver \(.* --serve\) exited \(code 3\)\n--- its last lines on stderr ---\nTraceback: the driver fell over$/);
  } finally {
    await d.close();
  }
});
