/**
 * The user's own code on the lab, as a user brings it: a scenario and a task module written in a folder of theirs
 * (outside the repository), importing lab as `lab/queue` — lab installed there from its folder, as `npm install
 * /path/to/lab` does (a link) — run on the embedded lab (`lab run /tmp/…/scenario.js`) and on a local-provider
 * lab whose inventory lists the task module (`tasks:`). Bad input: a module without a scenario export, one that
 * lacks a field, a .ts scenario or task module, a task module that does not load on the workers host.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunRecord } from '../../lab/report/run-record.js';
import type { LabStatus } from '../../lab/orchestrator/status.js';
import { REPO_ROOT, alive, lab } from '../support/cli.js';
import { serviceBinaries } from '../support/prereq.js';

const TASKS = `import { App } from 'lab/queue';
export const app = new App('mine');
export const double = app.task('mine.double', (x) => 2 * x, { params: ['x'] });
`;

const SCENARIO = `import { performance } from 'node:perf_hooks';
import { group } from 'lab/queue';
import { app, double } from './tasks.js';
export default {
  name: 'doubler',
  summary: 'double n numbers here and on the workers',
  params: { n: { type: 'int', describe: 'how many numbers to double', default: 4, min: 1 } },
  modes: ['local', 'distributed'],
  tasksModule: new URL('./tasks.js', import.meta.url),
  app: () => app,
  prepare: ({ n }) => Array.from({ length: n }, (_, i) => i + 1),
  async run(mode, _params, xs, ctx) {
    const t0 = performance.now();
    const output = mode === 'local' ? xs.map((x) => 2 * x) : await (await group(xs.map((x) => double.s(x))).delay()).get({ timeout: ctx.timeoutS, signal: ctx.signal });
    return { output, phases: { double: performance.now() - t0 } };
  },
  verify: (_p, xs, out) => (JSON.stringify(out) === JSON.stringify(xs.map((x) => 2 * x)) ? { ok: true, detail: 'doubled' } : { ok: false, detail: JSON.stringify(out) }),
};
`;

/**
 * A folder of the user's outside the repository, lab "installed" in it; removed after the test — after `cleanUp`
 * (a lab down, which must run while the folder is still there).
 */
async function userPackage(t: test.TestContext, cleanUp?: (dir: string) => Promise<unknown>): Promise<string> {
  const dir = await realpath(await mkdtemp(join(tmpdir(), 'lab-user-code-')));
  t.after(async () => {
    await cleanUp?.(dir);
    await rm(dir, { recursive: true, force: true });
  });
  assert.ok(!dir.startsWith(REPO_ROOT), 'outside the repository');
  await mkdir(join(dir, 'node_modules'));
  await symlink(REPO_ROOT, join(dir, 'node_modules', 'lab'));
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'my-experiments', private: true, type: 'module' }));
  await writeFile(join(dir, 'tasks.js'), TASKS);
  await writeFile(join(dir, 'scenario.js'), SCENARIO);
  return dir;
}

const oneLine = (stderr: string): string[] => stderr.trim().split('\n');

test('a user scenario and task module on the embedded lab; bad modules say what is wrong in one line', { timeout: 120_000 }, async (t) => {
  const dir = await userPackage(t);
  const env = { LAB_HOME: join(dir, 'home') };
  const run = (args: string[]): ReturnType<typeof lab> => lab(args, { env, cwd: dir, timeoutMs: 60_000 });

  const r = await run(['run', join(dir, 'scenario.js'), '--n', '5', '--repeat', '2', '--warmup', '0', '--json', '--reports', join(dir, 'reports')]);
  assert.equal(r.code, 0, r.stderr);
  const record = JSON.parse(r.stdout) as RunRecord;
  assert.equal(record.scenario, 'doubler');
  assert.equal(record.lab.kind, 'embedded');
  assert.equal(record.verified, true);
  assert.deepEqual(record.modes, ['local', 'distributed']);

  // relative to the current directory, as a user types it
  const rel = await run(['run', './scenario.js', '--repeat', '1', '--warmup', '0', '--reports', join(dir, 'reports')]);
  assert.equal(rel.code, 0, rel.stderr);
  assert.match(rel.stdout, /doubler · embedded lab/);

  // an installed package's name: its main module is the scenario
  await mkdir(join(dir, 'node_modules', 'doubler-scenario'));
  await writeFile(join(dir, 'node_modules', 'doubler-scenario', 'package.json'), JSON.stringify({ name: 'doubler-scenario', type: 'module', exports: './index.js' }));
  await writeFile(join(dir, 'node_modules', 'doubler-scenario', 'index.js'), "export { default } from '../../scenario.js';\n");
  const byName = await run(['run', 'doubler-scenario', '--n', '2', '--repeat', '1', '--warmup', '0', '--json', '--reports', join(dir, 'reports')]);
  assert.equal(byName.code, 0, byName.stderr);
  assert.equal((JSON.parse(byName.stdout) as RunRecord).scenario, 'doubler');

  const help = await run(['run', './scenario.js', '--help']);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /-n\s+how many numbers to double \[default: 4\]/);
  assert.match(help.stdout, /double n numbers here and on the workers/);

  const badParam = await run(['run', './scenario.js', '--n', 'lots']);
  assert.equal(badParam.code, 2);
  assert.match(badParam.stderr, /^lab: --n: expected an integer ≥ 1, got "lots"$/m);
  const unknownFlag = await run(['run', './scenario.js', '--bogus', '1']);
  assert.equal(unknownFlag.code, 2);
  assert.match(unknownFlag.stderr, /bogus/);

  await writeFile(join(dir, 'none.js'), 'export const answer = 42;\n');
  const none = await run(['run', './none.js']);
  assert.equal(none.code, 2);
  assert.deepEqual(oneLine(none.stderr).length, 1, none.stderr);
  assert.match(none.stderr, /^lab: \.\/none\.js exports no scenario: expected `export default \{ … \}` or `export const scenario = \{ … \}` with name, params, modes, tasksModule, run, verify/);
  assert.match(none.stderr, /it exports answer/);

  await writeFile(join(dir, 'lacks.js'), "export const scenario = { name: 'half', params: {}, modes: ['a'], tasksModule: './tasks.js', run: async () => ({ output: 1, phases: {} }) };\n");
  const lacks = await run(['run', './lacks.js']);
  assert.equal(lacks.code, 2);
  assert.equal(oneLine(lacks.stderr).length, 1, lacks.stderr);
  assert.match(lacks.stderr, /^lab: \.\/lacks\.js: the scenario lacks verify /);

  await writeFile(join(dir, 'scenario.ts'), 'export default {};\n');
  const ts = await run(['run', './scenario.ts']);
  assert.equal(ts.code, 2);
  assert.equal(oneLine(ts.stderr).length, 1, ts.stderr);
  assert.match(ts.stderr, /^lab: \.\/scenario\.ts: lab loads JavaScript, not TypeScript: compile it \(npx tsc\) and give lab the \.js it emits \(e\.g\. \.\/scenario\.js\)$/m);

  await writeFile(join(dir, 'tasks.ts'), 'export {};\n');
  const w = await run(['worker', '-A', './tasks.ts', '--broker', 'amqp://127.0.0.1:1//']);
  assert.equal(w.code, 2);
  assert.equal(oneLine(w.stderr).length, 1, w.stderr);
  assert.match(w.stderr, /^lab: -A \.\/tasks\.ts: lab loads JavaScript, not TypeScript: compile it \(npx tsc\)/);
  // `-A tasks` with only tasks.ts there: the same advice
  await rm(join(dir, 'tasks.js'));
  const onlyTs = await run(['worker', '-A', 'tasks', '--broker', 'amqp://127.0.0.1:1//']);
  assert.equal(onlyTs.code, 2);
  assert.match(onlyTs.stderr, /^lab: -A tasks: only tasks\.ts is there; lab loads JavaScript, not TypeScript/);

  const unknown = await run(['run', 'no-such-scenario']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown scenario "no-such-scenario" \(known: echo, currency, mergesort, .*, lessons, smoke\); a scenario of yours: lab run \.\/my-scenario\.js/);
});

/** A local-provider lab of the user's, its inventory beside their modules; ports clear of the machine's services. */
function inventory(lab: string, ports: [number, number, number], tasks: string[], config?: string): string {
  return [`lab: ${lab}`, 'provider: local', `ports: { broker: ${ports[0]}, backend: ${ports[1]}, quotes: ${ports[2]} }`, 'defaults:', `  tasks: [${tasks.join(', ')}]`, ...(config ? [`  config: ${config}`] : []), 'hosts:', '  HOST1:', '  HOST2:', '  HOST3: { concurrency: 2 }', '  HOST4:', ''].join('\n');
}

test('a local lab whose workers load the user task module; the user scenario runs on it from the controller', { timeout: 240_000 }, async (t) => {
  if (!(await serviceBinaries(t))) return;
  const dir = await userPackage(t, (d) => lab(['down', '--lab', 'usercode'], { env: { LAB_HOME: join(d, 'home') }, cwd: d }));
  const env = { LAB_HOME: join(dir, 'home') };
  const run = (args: string[]): ReturnType<typeof lab> => lab(args, { env, cwd: dir, timeoutMs: 120_000 });
  // the workers' settings module (lab worker --config): Celery's names
  await writeFile(join(dir, 'celeryconfig.js'), 'export const worker_prefetch_multiplier = 1;\nexport const task_acks_late = true;\n');
  await writeFile(join(dir, 'hosts.yaml'), inventory('usercode', [5741, 6441, 8041], ['./tasks.js'], './celeryconfig.js'));

  const up = await run(['up', '--hosts', 'hosts.yaml', '-v']);
  assert.equal(up.code, 0, up.stderr);
  assert.match(up.stdout + up.stderr, /workers: task modules \(tasks\.js, celeryconfig\.js\)/);
  assert.match(up.stdout + up.stderr, /loaded tasks\.js/);

  const call = await run(['call', 'mine.double', '[21]', '--wait']);
  assert.equal(call.code, 0, call.stderr);
  assert.match(call.stdout, /^42$/m);

  const r = await run(['run', './scenario.js', '--n', '6', '--repeat', '2', '--warmup', '0', '--json', '--reports', join(dir, 'reports')]);
  assert.equal(r.code, 0, r.stderr);
  const record = JSON.parse(r.stdout) as RunRecord;
  assert.equal(record.scenario, 'doubler');
  assert.equal(record.lab.kind, 'local');
  assert.equal(record.lab.name, 'usercode');
  assert.equal(record.lab.driver, 'controller', "a user scenario's driver runs on the controller");
  assert.equal(record.verified, true);

  // a scenario whose tasks the lab's workers do not have: said before the first repeat
  await mkdir(join(dir, 'other'));
  await writeFile(join(dir, 'other', 'tasks.js'), TASKS.replace("'mine.double'", "'other.double'"));
  await writeFile(join(dir, 'other', 'scenario.js'), SCENARIO.replace("name: 'doubler'", "name: 'other'"));
  const other = await run(['run', './other/scenario.js', '--repeat', '1', '--warmup', '0', '--reports', join(dir, 'reports')]);
  assert.equal(other.code, 1);
  assert.match(other.stderr, /the lab's workers \(celery@HOST3\) do not have other\.double: list the scenario's task module \(.*other\/tasks\.js\) in the inventory's tasks:/);

  const status = JSON.parse((await run(['status', '--json'])).stdout) as LabStatus;
  const pids = status.services.map((s) => s.pid).filter((p): p is number => p !== null);
  const down = await run(['down']);
  assert.equal(down.code, 0, down.stderr);
  for (const pid of pids) assert.equal(alive(pid), false, `pid ${pid} still runs`);
});

test('a tasks: module that does not load: lab up names host, module and error; nothing of the worker runs; lab down cleans', { timeout: 240_000 }, async (t) => {
  if (!(await serviceBinaries(t))) return;
  const dir = await userPackage(t, (d) => lab(['down', '--lab', 'userbroken'], { env: { LAB_HOME: join(d, 'home') }, cwd: d }));
  const env = { LAB_HOME: join(dir, 'home') };
  const run = (args: string[]): ReturnType<typeof lab> => lab(args, { env, cwd: dir, timeoutMs: 120_000 });
  await writeFile(join(dir, 'broken.js'), "import { App } from 'lab/queue';\nexport const app = new App('broken');\nthrow new TypeError('the broken module breaks');\n");
  await writeFile(join(dir, 'hosts.yaml'), inventory('userbroken', [5742, 6442, 8042], ['./tasks.js', './broken.js']));

  const up = await run(['up', '--hosts', 'hosts.yaml']);
  assert.equal(up.code, 1, up.stderr);
  const first = up.stderr.split('\n').find((l) => l.startsWith('lab: '));
  assert.ok(first, up.stderr);
  // …and how often its supervisor tried before it gave up (a module that does not load fails every start)
  assert.match(first, /^lab: HOST3: workers not ready \(canary task round trip\): task module .*\/broken\.js does not load: TypeError: the broken module breaks \(supervisor: exited with code \d+ after [\d.]+ s before it was ready, 4 times in a row: gave up after 3 restarts \(maxRestarts 3\)\)$/);

  // The worker exited; RabbitMQ, Redis and the quote server are the lab's until lab down.
  const status = JSON.parse((await run(['status', '--json'])).stdout) as LabStatus;
  const workers = status.services.find((s) => s.service === 'workers');
  assert.ok(workers);
  assert.equal(workers.running, false, 'the worker that could not load its modules does not run');
  const pids = status.services.map((s) => s.pid).filter((p): p is number => p !== null);
  const down = await run(['down']);
  assert.equal(down.code, 0, down.stderr);
  for (const pid of pids) assert.equal(alive(pid), false, `pid ${pid} still runs`);
  assert.equal(existsSync(join(dir, 'home', 'userbroken')), false, 'state removed');
});
