/**
 * `lab init` writes a commented ./hosts.yaml per provider (valid as written, never overwriting), and `lab up` finds
 * its inventory: --hosts, else the active lab's, else ./hosts.yaml, else a hint naming `lab init`.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasCode } from '../../lab/errors.js';
import { INIT_PROVIDERS, initTemplate, writeInventory } from '../../lab/cli/init-inventory.js';
import { resolveUpInventory } from '../../lab/cli/up-inventory.js';
import { loadInventory } from '../../lab/topology/inventory.js';
import { fakeLab } from './fake-lab.js';

const scratch = (): Promise<string> => mkdtemp(join(tmpdir(), 'lab-init-'));

for (const provider of INIT_PROVIDERS) {
  test(`lab init --provider ${provider}: a commented hosts.yaml with the book's four hosts that loads as written`, async (t) => {
    const dir = await scratch();
    t.after(() => rm(dir, { recursive: true, force: true }));
    const file = await writeInventory(provider, undefined, dir);
    assert.equal(file, join(dir, 'hosts.yaml'));
    const topology = await loadInventory(file, { resolve: async () => null });
    assert.equal(topology.provider, provider);
    assert.deepEqual(topology.warnings, [], 'nothing in it is ignored');
    const roles = Object.fromEntries(topology.hosts.map((h) => [h.name, [...h.roles].sort().join(',')]));
    assert.deepEqual(roles, { HOST1: 'broker', HOST2: 'backend', HOST3: 'workers', HOST4: 'master,quotes' });
    const text = await readFile(file, 'utf8');
    // Comments teach each field that is written.
    for (const field of ['lab:', 'provider:', 'defaults:', 'concurrency:', 'pool:', 'hosts:', 'queues:']) {
      const line = text.split('\n').find((l) => l.trimStart().startsWith(field));
      assert.ok(line?.includes('#'), `${provider}: ${field} has a comment: ${line}`);
    }
    assert.match(text, /lab up/, 'says how to bring it up');
  });
}

test('lab init never overwrites: an existing hosts.yaml is a usage error and stays as it was', async (t) => {
  const dir = await scratch();
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'hosts.yaml'), 'mine\n');
  await assert.rejects(writeInventory('netns', undefined, dir), (e: unknown) => hasCode(e, 'E_USAGE') && (e as Error).message === 'hosts.yaml already exists; lab init never overwrites: edit it, or move it away and run lab init again');
  assert.equal(await readFile(join(dir, 'hosts.yaml'), 'utf8'), 'mine\n');
});

test('the templates are the files under hosts/init/', async () => {
  assert.match(await initTemplate('ssh'), /^provider: ssh /m);
});

test('lab up without --hosts: the active lab’s inventory (a re-up), else ./hosts.yaml, else the lab init hint', async (t) => {
  const cwd = await scratch();
  const home = await scratch();
  t.after(() => Promise.all([rm(cwd, { recursive: true, force: true }), rm(home, { recursive: true, force: true })]));
  // --hosts always wins, relative to the working directory.
  assert.deepEqual(await resolveUpInventory('my.yaml', { cwd, home }), { file: join(cwd, 'my.yaml'), source: 'flag' });
  // Nothing: one line naming lab init.
  await assert.rejects(resolveUpInventory(undefined, { cwd, home }), (e: unknown) => hasCode(e, 'E_USAGE') && /^no inventory: no hosts\.yaml here and no lab is up — write one with lab init/.test((e as Error).message));
  // ./hosts.yaml when there is one.
  await writeFile(join(cwd, 'hosts.yaml'), 'x\n');
  assert.deepEqual(await resolveUpInventory(undefined, { cwd, home }), { file: join(cwd, 'hosts.yaml'), source: 'cwd' });
  // The active lab beats ./hosts.yaml: its state records the inventory it came from.
  const lab = await fakeLab('reup', { broker: 5998, backend: 6998 }, home);
  assert.deepEqual(await resolveUpInventory(undefined, { cwd, home }), { file: lab.inventory, source: 'active-lab', lab: 'reup' });
  // …and if that inventory is gone, it says so rather than bring up another lab.
  await rm(lab.inventory);
  await assert.rejects(resolveUpInventory(undefined, { cwd, home }), (e: unknown) => hasCode(e, 'E_USAGE') && /the active lab "reup" came from .*reup\.yaml, which is gone/.test((e as Error).message));
  // An active pointer without state (a lab that was taken down by hand) is no lab.
  await rm(lab.dir, { recursive: true });
  assert.equal((await resolveUpInventory(undefined, { cwd, home })).source, 'cwd');
});
