/**
 * The user's task modules on an SSH lab: listed in the inventory's `tasks:` (a module in a subfolder and the helper
 * it imports), shipped over SFTP into each workers host's work directory next to `node_modules/lab` (so their
 * `import … from 'lab/queue'` loads the shipped lab), loaded by the workers and checked by the canary; edited and
 * `lab up` again: shipped again and the workers restarted; a user scenario run on the lab from the controller;
 * `lab down` leaves nothing.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunRecord } from '../../lab/report/run-record.js';
import type { WorkerInfo } from '../../lab/services/worker-info.js';
import { REPO_ROOT, lab } from '../support/cli.js';
import { root, serviceBinaries } from '../support/prereq.js';
import { startSshdLab } from '../../support/sshd-lab.js';

const LAB = 'e2esshmods';

test('ssh lab: tasks: shipped over SFTP, loaded and checked; re-shipped and restarted after an edit; a user scenario on it', { timeout: 600_000 }, async (t) => {
  if (!(await root(t))) return;
  if (!(await serviceBinaries(t, ['/usr/sbin/sshd']))) return;
  const sshd = await startSshdLab(4);
  const home = await mkdtemp(join(tmpdir(), 'lab-sshmods-home-'));
  // The user's project, outside the repository, lab linked in as `npm install /path/to/lab` does.
  const proj = await realpath(await mkdtemp(join(tmpdir(), 'lab-sshmods-proj-')));
  const env = { LAB_HOME: home };
  const run = (args: string[]): ReturnType<typeof lab> => lab(args, { env, cwd: proj, timeoutMs: 300_000 });
  t.after(async () => {
    await run(['down', '--lab', LAB]);
    await sshd.cleanup();
    await rm(home, { recursive: true, force: true });
    await rm(proj, { recursive: true, force: true });
  });
  await mkdir(join(proj, 'node_modules'));
  await symlink(REPO_ROOT, join(proj, 'node_modules', 'lab'));
  await writeFile(join(proj, 'package.json'), JSON.stringify({ name: 'proj', private: true, type: 'module' }));
  await mkdir(join(proj, 'src', 'lib'), { recursive: true });
  await writeFile(join(proj, 'src', 'lib', 'words.js'), "export const words = (text) => text.split(/\\s+/).filter(Boolean);\n");
  await writeFile(
    join(proj, 'src', 'tasks.js'),
    ["import { App } from 'lab/queue';", "import { words } from './lib/words.js';", "export const app = new App('proj');", "export const count = app.task('proj.count', (text) => words(text).length, { params: ['text'] });", ''].join('\n'),
  );
  await writeFile(
    join(proj, 'scenario.js'),
    [
      "import { count, app } from './src/tasks.js';",
      'export default {',
      "  name: 'proj-count', params: { text: { type: 'string', describe: 'text', default: 'a b c' } }, modes: ['local', 'distributed'],",
      "  tasksModule: './src/tasks.js', app: () => app,",
      "  async run(mode, { text }, _f, ctx) { const t0 = Date.now(); const output = mode === 'local' ? count.fn(text) : await (await count.delay(text)).get({ timeout: ctx.timeoutS }); return { output, phases: { count: Date.now() - t0 } }; },",
      "  verify: (_p, _f, out) => ({ ok: out === 3, detail: String(out) }),",
      '};',
      '',
    ].join('\n'),
  );
  const inventory = join(proj, 'pis.yaml');
  await writeFile(
    inventory,
    [
      `lab: ${LAB}`,
      'provider: ssh',
      `defaults: { user: root, key: ${sshd.clientKey}, concurrency: 2, tasks: [./src/tasks.js, ./src/lib/words.js] }`,
      'hosts:',
      ...sshd.hosts.map((h) => `  ${h.name}: { address: ${h.address}, port: ${h.port} }`),
      '',
    ].join('\n'),
  );

  const up = await run(['up', '--hosts', inventory, '-v']);
  assert.equal(up.code, 0, `${up.stdout}\n${up.stderr}`);
  const out = up.stdout + up.stderr;
  // their layout below the deepest folder holding them all (src/): tasks.js imports ./lib/words.js
  assert.match(out, /HOST3\s+✓ ship tasks: tasks\.js, lib\/words\.js → \/root\/\.lab\/e2esshmods\/HOST3\/tasks/);
  assert.doesNotMatch(out, /HOST[124]\s+.*ship tasks/, 'only workers hosts get them');
  assert.match(out, /workers: task modules \(tasks\.js, words\.js\)/);

  // The workers loaded the shipped copies (not the user's files, though this machine's file system has both).
  const info = await run(['call', 'lab.worker_info', '--wait']);
  assert.equal(info.code, 0, info.stderr);
  const w = JSON.parse(info.stdout) as WorkerInfo;
  assert.equal(w.node, 'celery@HOST3');
  const shipped = `file:///root/.lab/${LAB}/HOST3/tasks/`;
  assert.deepEqual(
    w.modules.filter((m) => m.url.startsWith(shipped)).map((m) => m.url.slice(shipped.length)),
    ['tasks.js', 'lib/words.js'],
  );
  assert.ok(w.tasks.includes('proj.count') && w.tasks.includes('lab.worker_info'), w.tasks.join(' '));
  const c1 = await run(['call', 'proj.count', '["one two three four"]', '--wait']);
  assert.equal(c1.code, 0, c1.stderr);
  assert.equal(c1.stdout.trim(), '4');

  // Edit the helper; lab up again ships it again and restarts the workers that run the old copy.
  await writeFile(join(proj, 'src', 'lib', 'words.js'), "export const words = (text) => text.split(/\\s+/).filter(Boolean).concat(['+1']);\n");
  const again = await run(['up', '--hosts', inventory, '-v']);
  assert.equal(again.code, 0, `${again.stdout}\n${again.stderr}`);
  assert.match(again.stdout + again.stderr, /HOST3\s+✓ ship tasks/);
  assert.match(again.stdout + again.stderr, /words\.js changed since the workers started: restarting the workers/);
  const c2 = await run(['call', 'proj.count', '["one two three four"]', '--wait']);
  assert.equal(c2.stdout.trim(), '5', c2.stderr);
  // and once more, nothing changed: nothing shipped, nothing restarted
  const third = await run(['up', '--hosts', inventory, '-v']);
  assert.equal(third.code, 0, third.stderr);
  assert.match(third.stdout + third.stderr, /HOST3\s+= ship tasks/);
  assert.doesNotMatch(third.stdout + third.stderr, /restarting the workers/);

  // A user scenario on the ssh lab: its driver here, the tasks on HOST3.
  await writeFile(join(proj, 'src', 'lib', 'words.js'), "export const words = (text) => text.split(/\\s+/).filter(Boolean);\n");
  assert.equal((await run(['up', '--hosts', inventory])).code, 0);
  const r = await run(['run', './scenario.js', '--repeat', '2', '--warmup', '0', '--json', '--reports', join(home, 'reports')]);
  assert.equal(r.code, 0, r.stderr);
  const rec = JSON.parse(r.stdout) as RunRecord;
  assert.equal(rec.lab.kind, 'ssh');
  assert.equal(rec.lab.driver, 'controller');
  assert.equal(rec.verified, true);

  const down = await run(['down']);
  assert.equal(down.code, 0, `${down.stdout}\n${down.stderr}`);
  assert.equal(existsSync(`/root/.lab/${LAB}`), false, 'the work directories, with the shipped modules, are gone');
});
