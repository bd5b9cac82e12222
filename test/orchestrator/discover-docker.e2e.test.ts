/**
 * `lab down --lab NAME --discover --hosts INVENTORY` for a docker lab (Podman's Docker API, the role images) whose
 * state folder was deleted: `lab down` alone says the lab is not up; --discover removes the containers and the
 * network labelled with the lab's name and state folder — and nothing of another lab's: a container labelled with
 * the same lab name but another state folder (made here through the engine, as another home's lab would be) stays.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { dockerInventory, EMPTY_IMAGE } from '../../support/podman.js';
import { lab } from '../support/cli.js';
import { needs } from '../support/prereq.js';
import { useRoleEngine } from '../support/role-engine.js';

const LAB = 'e2eddisc';

const engine = useRoleEngine([LAB], 'discover-docker e2e');

test('lab down --discover removes a docker lab whose state is gone, by its labels, and only that lab', { timeout: 600_000 }, async (t) => {
  if (!(await needs(t, 'Podman (Docker Engine API) and the role images', async () => engine.missing))) return;
  const home = await mkdtemp(join(tmpdir(), 'lab-docker-disc-'));
  const keep = await mkdtemp(join(tmpdir(), 'lab-docker-disc-inv-'));
  const run = (args: string[]): ReturnType<typeof lab> => lab(args, { env: { LAB_HOME: home }, cwd: tmpdir(), timeoutMs: 240_000 });
  const inventory = join(keep, 'hosts.yaml');
  t.after(async () => {
    await run(['down', '--lab', LAB, '--discover', '--hosts', inventory]);
    await rm(home, { recursive: true, force: true });
    await rm(keep, { recursive: true, force: true });
  });
  await writeFile(inventory, dockerInventory({ lab: LAB, subnet: '198.19.237.0/24', socket: engine.podman!.socket, roleImages: engine.images! }));
  const up = await run(['up', '--hosts', inventory]);
  assert.equal(up.code, 0, `${up.stdout}\n${up.stderr}`);
  const labelled = async (): Promise<string[]> => [
    ...(await engine.podman!.engine.containersLabelled(`lab.name=${LAB}`)).map((c) => c.name),
    ...(await engine.podman!.engine.networksLabelled(`lab.name=${LAB}`)).map((n) => n.name),
  ];
  assert.deepEqual((await labelled()).sort(), [`${LAB}-HOST1`, `${LAB}-HOST2`, `${LAB}-HOST3`, `${LAB}-HOST4`, `lab-${LAB}`]);
  // another home's lab of the same name: same lab.name, another lab.state (a container of the empty image, never started)
  const other = await engine.podman!.engine.createContainer({ name: `${LAB}-other-home`, image: EMPTY_IMAGE, cmd: ['true'], labels: { 'lab.name': LAB, 'lab.state': join(keep, 'elsewhere', LAB) } });

  await rm(join(home, LAB), { recursive: true, force: true }); // the state is lost
  const plain = await run(['down', '--lab', LAB]);
  assert.match(plain.stdout, /not up/);
  const d = await run(['down', '--lab', LAB, '--discover', '--hosts', inventory]);
  assert.equal(d.code, 0, `${d.stdout}\n${d.stderr}`);
  assert.match(d.stdout, new RegExp(`lab ${LAB}: found by name and removed 5 things \\(4 containers, 1 network\\) on unix://.*; left alone 1 of another lab of this name`));
  assert.deepEqual(await labelled(), [`${LAB}-other-home`], 'only the other home’s container is left');
  await engine.podman!.engine.removeContainer(other);
  assert.deepEqual(await labelled(), []);
});
