/**
 * `lab down --lab NAME --discover` after the lab's state folder was deleted: `lab down` alone says no lab is up;
 * --discover finds the bridge, namespaces, links, the processes in the namespaces and the files by the lab's names
 * and removes them — and leaves alone a lab whose name starts the same.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { lab } from '../support/cli.js';
import { leftovers } from '../support/netns-lab.js';
import { root, serviceBinaries } from '../support/prereq.js';
import { parseInventory } from '../../lab/topology/inventory.js';

test('lab down --discover removes a netns lab whose state is gone, and only that lab', { timeout: 600_000 }, async (t) => {
  if (!(await root(t))) return;
  if (!(await serviceBinaries(t))) return;
  const home = await mkdtemp(join(tmpdir(), 'lab-discover-'));
  const other = await mkdtemp(join(tmpdir(), 'lab-discover-other-'));
  // cwd: not the home, which the test deletes
  const run = (args: string[], h = home): ReturnType<typeof lab> => lab(args, { env: { LAB_HOME: h }, cwd: tmpdir(), timeoutMs: 240_000 });
  t.after(async () => {
    await run(['down', '--lab', 'e2edisc', '--discover']);
    await run(['down', '--lab', 'e2edisc-2'], other);
    await rm(home, { recursive: true, force: true });
    await rm(other, { recursive: true, force: true });
  });
  const text = (name: string, subnet: string): string => [`lab: ${name}`, 'provider: netns', `subnet: ${subnet}`, 'hosts:', '  HOST1: {}', '  HOST2: {}', '  HOST3: {}', '  HOST4: {}', ''].join('\n');
  await writeFile(join(home, 'hosts.yaml'), text('e2edisc', '198.19.162.0/24'));
  // a lab whose namespaces start "lab-e2edisc-" too: host "2-host1" of lab e2edisc would have the same name
  await writeFile(join(other, 'hosts.yaml'), ['lab: e2edisc-2', 'provider: netns', 'subnet: 198.19.163.0/24', 'hosts:', '  HOST1: { roles: [broker, backend, workers, master, quotes] }', ''].join('\n'));
  const up = await run(['up', '--hosts', join(home, 'hosts.yaml')]);
  assert.equal(up.code, 0, up.stderr);
  const up2 = await run(['up', '--hosts', join(other, 'hosts.yaml')], other);
  assert.equal(up2.code, 0, up2.stderr);
  const topology = await parseInventory(text('e2edisc', '198.19.162.0/24'), 'inline.yaml');
  const state = join(home, 'e2edisc');
  await rm(home, { recursive: true, force: true }); // the state is lost
  assert.ok((await leftovers(topology, state)).length > 5);
  const plain = await run(['down', '--lab', 'e2edisc']);
  assert.match(plain.stdout, /not up/);
  const d = await run(['down', '--lab', 'e2edisc', '--discover']);
  assert.equal(d.code, 0, `${d.stdout}\n${d.stderr}`);
  assert.match(d.stdout, /found by name and removed \d+ things \([1-9]\d* processes, 4 namespaces, 4 links, the bridge, 5 files\)/);
  assert.deepEqual(await leftovers(topology, state), []);
  // the other lab still runs
  const st = await run(['status'], other);
  assert.equal(st.code, 0, st.stderr);
});
