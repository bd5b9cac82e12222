/**
 * The user's task modules on a docker lab (Podman's Docker API): listed in `tasks:`, copied through the engine's
 * archive API into the workers container's work directory next to `node_modules/lab` (→ the lab in the container),
 * loaded and checked by the canary; copied again and the workers restarted after an edit; not copied when
 * unchanged; `lab down` leaves no container or network.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WorkerInfo } from '../../lab/services/worker-info.js';
import { REPO_ROOT, lab } from '../support/cli.js';
import { dockerInventory, podmanMissing, startPodman } from '../../support/podman.js';
import type { PodmanService } from '../../support/podman.js';
import { needs } from '../support/prereq.js';

const LAB = 'e2edockmods';
let podman: PodmanService | null = null;
let podmanError: string | null = null;

test.before(async () => {
  podmanError = await podmanMissing();
  if (podmanError) return;
  try {
    podman = await startPodman();
  } catch (err) {
    podmanError = (err as Error).message;
  }
});

test.after(async () => {
  if (!podman) return;
  const left = await podman.removeLabs([LAB]).catch((err: Error) => [`(cleanup failed: ${err.message})`]);
  if (left.length > 0) process.stderr.write(`docker user modules e2e: removed leftovers ${left.join(', ')}\n`);
  await podman.stop();
});

test('docker lab: tasks: copied into the workers container, loaded and checked; copied again and restarted after an edit', { timeout: 300_000 }, async (t) => {
  if (!(await needs(t, 'Podman (Docker Engine API)', async () => podmanError))) return;
  const home = await mkdtemp(join(tmpdir(), 'lab-dockmods-home-'));
  // The user's project (not mounted into the containers: what they get is what lab copies).
  const proj = await realpath(await mkdtemp(join(tmpdir(), 'lab-dockmods-proj-')));
  const env = { LAB_HOME: home };
  const run = (args: string[]): ReturnType<typeof lab> => lab(args, { env, cwd: proj, timeoutMs: 180_000 });
  t.after(async () => {
    await run(['down', '--lab', LAB]);
    await rm(home, { recursive: true, force: true });
    await rm(proj, { recursive: true, force: true });
  });
  await mkdir(join(proj, 'node_modules'));
  await symlink(REPO_ROOT, join(proj, 'node_modules', 'lab'));
  await writeFile(join(proj, 'tasks.js'), "import { App } from 'lab/queue';\nexport const app = new App('dk');\nexport const twice = app.task('dk.twice', (x) => 2 * x);\n");
  const inventory = join(proj, 'hosts.yaml');
  const text = dockerInventory({ lab: LAB, subnet: '198.19.231.0/24', socket: podman!.socket }).replace('defaults: { concurrency: 2, pool: prefork }', 'defaults: { concurrency: 2, pool: prefork, tasks: [./tasks.js] }');
  assert.match(text, /tasks: \[\.\/tasks\.js\]/);
  await writeFile(inventory, text);

  const up = await run(['up', '--hosts', inventory, '-v']);
  assert.equal(up.code, 0, `${up.stdout}\n${up.stderr}`);
  assert.match(up.stdout + up.stderr, new RegExp(`HOST3\\s+✓ copy tasks: tasks\\.js → /var/lib/lab/${LAB}/HOST3/tasks`));
  assert.match(up.stdout + up.stderr, /workers: task modules \(tasks\.js\)/);

  const info = await run(['call', 'lab.worker_info', '--wait']);
  assert.equal(info.code, 0, info.stderr);
  const w = JSON.parse(info.stdout) as WorkerInfo;
  assert.ok(w.modules.some((m) => m.url === `file:///var/lib/lab/${LAB}/HOST3/tasks/tasks.js`), JSON.stringify(w.modules));
  const c1 = await run(['call', 'dk.twice', '[21]', '--wait']);
  assert.equal(c1.stdout.trim(), '42', c1.stderr);

  const same = await run(['up', '--hosts', inventory, '--json']);
  assert.equal(same.code, 0, same.stderr);
  assert.equal((JSON.parse(same.stdout) as { changed: boolean }).changed, false, 'nothing changed, nothing copied');

  await writeFile(join(proj, 'tasks.js'), "import { App } from 'lab/queue';\nexport const app = new App('dk');\nexport const twice = app.task('dk.twice', (x) => 2 * x + 1);\n");
  const again = await run(['up', '--hosts', inventory, '-v']);
  assert.equal(again.code, 0, `${again.stdout}\n${again.stderr}`);
  assert.match(again.stdout + again.stderr, /HOST3\s+✓ copy tasks/);
  assert.match(again.stdout + again.stderr, /tasks\.js changed since the workers started: restarting the workers/);
  const c2 = await run(['call', 'dk.twice', '[21]', '--wait']);
  assert.equal(c2.stdout.trim(), '43', c2.stderr);

  const down = await run(['down']);
  assert.equal(down.code, 0, `${down.stdout}\n${down.stderr}`);
  assert.deepEqual((await podman!.engine.containersLabelled(`lab.name=${LAB}`)).map((c) => c.name), []);
});
