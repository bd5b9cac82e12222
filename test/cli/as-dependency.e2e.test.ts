/**
 * lab as a dependency of the user's own package, the way the README says to get it (lab is not on the registry yet):
 * `npm pack` this repository, `npm install <tarball>` in a fresh package outside it (offline where the npm cache
 * has the dependencies), then in that package `import { App } from 'lab/queue'` works (and type-checks, with
 * `lab/scenario`'s Scenario type), a task module of the user's
 * runs under the installed `lab worker` (against the test RabbitMQ and Redis), and the example scenario shipped in
 * the tarball runs with the installed `lab run` on the embedded lab.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { App } from '../../lab/queue/index.js';
import type { RunRecord } from '../../lab/report/run-record.js';
import { REPO_ROOT } from '../support/cli.js';
import { RABBITMQ_URL, REDIS_URL, rabbitmq, redis } from '../support/prereq.js';

const exec = promisify(execFile);

/** Run a command; its output for the assertion message when it fails. */
async function sh(cmd: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await exec(cmd, args, { cwd: options.cwd, env: { ...process.env, ...options.env }, timeout: options.timeoutMs ?? 180_000, maxBuffer: 32 * 1024 * 1024 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string; message: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? e.message };
  }
}

test('npm pack, npm install the tarball in a package of the user’s: lab/queue imports, lab worker runs the user’s tasks', { timeout: 300_000 }, async (t) => {
  if (!(await rabbitmq(t)) || !(await redis(t))) return;
  const tmp = await realpath(await mkdtemp(join(tmpdir(), 'lab-as-dependency-')));
  let worker: ReturnType<typeof import('node:child_process').spawn> | null = null;
  // The worker's queue is durable: it outlives the worker, so the test deletes it (pass or fail).
  const queue = `as-dependency-${process.pid}`;
  t.after(async () => {
    worker?.kill('SIGKILL');
    await rm(tmp, { recursive: true, force: true });
    const admin = new App('as-dependency-cleanup', { broker: RABBITMQ_URL, backend: null });
    await admin
      .getBroker()
      .then((broker) => broker.deleteQueue(queue))
      .finally(() => admin.close());
  });
  assert.ok(!tmp.startsWith(REPO_ROOT), 'outside the repository');
  const { version } = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };

  // The tarball: the built package (no build here: `prepare` would rebuild dist/ under the running tests).
  const pack = await sh('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], { cwd: REPO_ROOT });
  assert.equal(pack.code, 0, pack.stderr);
  const [packed] = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
  assert.ok(packed);
  const files = packed.files.map((f) => f.path);
  for (const f of ['bin/lab.js', 'dist/lab/queue/index.js', 'dist/lab/queue/index.d.ts', 'dist/lab/cli/main.js', 'dist/scenarios/index.js', 'examples/wordcount/tasks.js', 'examples/wordcount/scenario.js', 'peers/common/labpeer.py', 'peers/celery/driver.py', 'package.json', 'README.md']) {
    assert.ok(files.includes(f), `${f} is in the tarball`);
  }
  assert.ok(!files.some((f) => f.startsWith('dist/test/') || f.startsWith('dist/bench/')), 'no compiled tests or benchmarks in the tarball');

  // The user's package, outside the repository.
  const app = join(tmp, 'my-app');
  await mkdir(app);
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'my-app', version: '1.0.0', private: true, type: 'module' }, null, 2));
  // The package is published as queue-lab (`lab` on npm is hapi's test runner); installed under the name lab, as the
  // README says, `import … from 'lab/queue'` and the `lab` command work as in this repository.
  assert.equal(packed.filename, `queue-lab-${version}.tgz`);
  const install = await sh('npm', ['install', `lab@file:${join(tmp, packed.filename)}`, '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: app });
  assert.equal(install.code, 0, `npm install of the tarball failed (offline, the npm cache needs lab's dependencies):\n${install.stderr}`);

  await writeFile(join(app, 'tasks.js'), ["import { App } from 'lab/queue';", "export const app = new App('my-app');", "export const add = app.task('myapp.add', (a, b) => a + b, { params: ['a', 'b'] });", ''].join('\n'));
  const probe = await sh(process.execPath, ['--input-type=module', '-e', "import { App, Worker, group } from 'lab/queue'; import * as root from 'lab'; console.log(typeof App, typeof Worker, typeof group, root.App === App);"], { cwd: app });
  assert.equal(probe.code, 0, probe.stderr);
  assert.equal(probe.stdout.trim(), 'function function function true');

  // TypeScript users: the package's types (lab/queue, lab/scenario) check a scenario module (then they compile it).
  await writeFile(
    join(app, 'check.ts'),
    [
      "import { App } from 'lab/queue';",
      "import type { Scenario } from 'lab/scenario';",
      "const app = new App('typed');",
      "const twice = app.task('typed.twice', (x: number) => 2 * x);",
      'export const scenario: Scenario<{ n: number }, null, number> = {',
      "  name: 'typed', summary: '', description: '', examples: [], params: { n: { type: 'int', describe: 'n', default: 2 } },",
      "  modes: ['local'], baseline: 'local', candidate: 'local', defaults: { repeat: 1, warmup: 0 },",
      "  tasksModule: new URL('./check.js', import.meta.url), app: async () => app, prepare: () => null,",
      '  run: async (_mode, { n }) => ({ output: twice.fn(n), phases: {} }),',
      "  verify: (_p, _f, out) => ({ ok: out === 4, detail: '' }),",
      '};',
      '',
    ].join('\n'),
  );
  const tsc = await sh(process.execPath, [join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--skipLibCheck', 'check.ts'], { cwd: app });
  assert.equal(tsc.code, 0, `${tsc.stdout}${tsc.stderr}`);

  const bin = join(app, 'node_modules', '.bin', 'lab');
  const v = await sh(bin, ['--version'], { cwd: app });
  assert.equal(v.code, 0, v.stderr);
  assert.equal(v.stdout.trim(), version, "lab's own version, not the user package's");

  // The user's task module under the installed lab worker, on a queue of its own.
  const { spawn } = await import('node:child_process');
  worker = spawn(bin, ['worker', '-A', './tasks.js', '-Q', queue, '-c', '1', '-P', 'threads', '--broker', RABBITMQ_URL, '--backend', REDIS_URL], { cwd: app, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  worker.stdout!.setEncoding('utf8').on('data', (c: string) => (log += c));
  worker.stderr!.setEncoding('utf8').on('data', (c: string) => (log += c));
  const exited = new Promise<number | null>((resolve) => worker!.once('exit', (code) => resolve(code)));
  for (const deadline = Date.now() + 30_000; !/ ready\.$/m.test(log); ) {
    assert.ok(Date.now() < deadline && worker.exitCode === null, `the installed lab worker did not start:\n${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.match(log, /\. myapp\.add/, 'the worker lists the user task');
  await writeFile(
    join(app, 'client.js'),
    [
      "import { add, app } from './tasks.js';",
      'app.configFromObject({ broker_url: process.env.BROKER, result_backend: process.env.BACKEND });',
      `const r = await add.applyAsync([2, 3], {}, { queue: ${JSON.stringify(queue)} });`,
      'console.log(await r.get({ timeout: 20 }));',
      'await app.close();',
      '',
    ].join('\n'),
  );
  const client = await sh(process.execPath, ['client.js'], { cwd: app, env: { BROKER: RABBITMQ_URL, BACKEND: REDIS_URL }, timeoutMs: 60_000 });
  assert.equal(client.code, 0, `${client.stderr}\n--- worker ---\n${log}`);
  assert.equal(client.stdout.trim(), '5');
  worker.kill('SIGTERM');
  assert.equal(await exited, 0, log);
  worker = null;

  // The example scenario from the tarball, copied into the user's package, with the installed lab run.
  await cp(join(app, 'node_modules', 'lab', 'examples', 'wordcount'), join(app, 'wordcount'), { recursive: true });
  const run = await sh(bin, ['run', './wordcount/scenario.js', '--chunks', '3', '--words', '500', '--repeat', '1', '--warmup', '0', '--json', '--reports', join(app, 'reports')], {
    cwd: app,
    env: { LAB_HOME: join(tmp, 'home') },
    timeoutMs: 120_000,
  });
  assert.equal(run.code, 0, run.stderr);
  const record = JSON.parse(run.stdout) as RunRecord;
  assert.equal(record.scenario, 'wordcount');
  assert.equal(record.lab.kind, 'embedded');
  assert.equal(record.verified, true);
});
