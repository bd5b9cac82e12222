/**
 * The user's task modules on a netns lab: by path (the namespaces share this machine's file system), loaded by the
 * workers on HOST3 and checked by the canary; a user scenario run on the lab from the controller; down leaves no
 * namespace of the lab.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunRecord } from '../../lab/report/run-record.js';
import type { WorkerInfo } from '../../lab/services/worker-info.js';
import { REPO_ROOT, lab } from '../support/cli.js';
import { netnsList } from '../support/lab-clean.js';
import { root, serviceBinaries } from '../support/prereq.js';

const LAB = 'e2enetnsmods';

test('netns lab: tasks: loaded by path on the workers host; a user scenario on it', { timeout: 600_000 }, async (t) => {
  if (!(await root(t))) return;
  if (!(await serviceBinaries(t))) return;
  const home = await mkdtemp(join(tmpdir(), 'lab-netnsmods-home-'));
  const proj = await realpath(await mkdtemp(join(tmpdir(), 'lab-netnsmods-proj-')));
  const env = { LAB_HOME: home };
  const run = (args: string[]): ReturnType<typeof lab> => lab(args, { env, cwd: proj, timeoutMs: 180_000 });
  t.after(async () => {
    await run(['down', '--lab', LAB]);
    await rm(home, { recursive: true, force: true });
    await rm(proj, { recursive: true, force: true });
  });
  await mkdir(join(proj, 'node_modules'));
  await symlink(REPO_ROOT, join(proj, 'node_modules', 'lab'));
  await writeFile(join(proj, 'package.json'), JSON.stringify({ name: 'proj', private: true, type: 'module' }));
  await writeFile(join(proj, 'tasks.js'), "import { App } from 'lab/queue';\nexport const app = new App('ns');\nexport const inc = app.task('ns.inc', (x) => x + 1);\n");
  await writeFile(
    join(proj, 'scenario.js'),
    [
      "import { app, inc } from './tasks.js';",
      "export default { name: 'ns-inc', params: {}, modes: ['distributed'], tasksModule: './tasks.js', app: () => app,",
      '  async run(_m, _p, _f, ctx) { const t0 = Date.now(); const output = await (await inc.delay(41)).get({ timeout: ctx.timeoutS }); return { output, phases: { inc: Date.now() - t0 } }; },',
      "  verify: (_p, _f, out) => ({ ok: out === 42, detail: String(out) }) };",
      '',
    ].join('\n'),
  );
  const inventory = join(proj, 'hosts.yaml');
  await writeFile(inventory, [`lab: ${LAB}`, 'provider: netns', 'subnet: 198.18.233.0/24', 'defaults: { tasks: [./tasks.js] }', 'hosts:', '  HOST1:', '  HOST2:', '  HOST3: { concurrency: 2 }', '  HOST4:', ''].join('\n'));

  const up = await run(['up', '--hosts', inventory, '-v']);
  assert.equal(up.code, 0, `${up.stdout}\n${up.stderr}`);
  assert.match(up.stdout + up.stderr, /workers: task modules \(tasks\.js\)/);
  const info = await run(['call', 'lab.worker_info', '--wait']);
  assert.equal(info.code, 0, info.stderr);
  const w = JSON.parse(info.stdout) as WorkerInfo;
  assert.ok(w.modules.some((m) => m.url === `file://${join(proj, 'tasks.js')}`), 'loaded where it is');

  const r = await run(['run', './scenario.js', '--repeat', '2', '--warmup', '0', '--json', '--reports', join(home, 'reports')]);
  assert.equal(r.code, 0, r.stderr);
  const rec = JSON.parse(r.stdout) as RunRecord;
  assert.equal(rec.lab.kind, 'netns');
  assert.equal(rec.lab.driver, 'controller');
  assert.equal(rec.verified, true);

  const down = await run(['down']);
  assert.equal(down.code, 0, `${down.stdout}\n${down.stderr}`);
  assert.deepEqual(netnsList().filter((n) => n.includes(LAB)), []);
});
