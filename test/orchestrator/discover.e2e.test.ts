/**
 * `lab down --lab NAME --discover` after the lab's state folder was deleted: `lab down` alone says no lab is up;
 * --discover finds the bridge, namespaces, links, the processes in the namespaces and the files by the lab's names
 * and removes them — and leaves alone a namespace of another lab whose name starts the same (lab "e2edisc-2"'s
 * HOST1, made here by hand as netns would: its eth0 is the peer of a link that is not e2edisc's).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { lab } from '../support/cli.js';
import { leftovers, run as sh } from '../support/netns-lab.js';
import { netnsList } from '../support/lab-clean.js';
import { root, serviceBinaries } from '../support/prereq.js';
import { parseInventory } from '../../lab/topology/inventory.js';

test('lab down --discover removes a netns lab whose state is gone, and only that lab', { timeout: 600_000 }, async (t) => {
  if (!(await root(t))) return;
  if (!(await serviceBinaries(t))) return;
  const home = await mkdtemp(join(tmpdir(), 'lab-discover-'));
  // cwd: not the home, which the test deletes
  const run = (args: string[]): ReturnType<typeof lab> => lab(args, { env: { LAB_HOME: home }, cwd: tmpdir(), timeoutMs: 240_000 });
  const OTHER = 'lab-e2edisc-2-host1';
  t.after(async () => {
    await run(['down', '--lab', 'e2edisc', '--discover']);
    await sh(['ip', 'netns', 'del', OTHER]);
    await sh(['ip', 'link', 'del', 'dev', 'lvdisc0ther']);
    await rm(home, { recursive: true, force: true });
  });
  const text = (name: string, subnet: string): string => [`lab: ${name}`, 'provider: netns', `subnet: ${subnet}`, 'hosts:', '  HOST1: {}', '  HOST2: {}', '  HOST3: {}', '  HOST4: {}', ''].join('\n');
  await writeFile(join(home, 'hosts.yaml'), text('e2edisc', '198.19.162.0/24'));
  // a lab whose namespaces start "lab-e2edisc-" too: host "2-host1" of lab e2edisc would have the same name
  assert.equal((await sh(['ip', 'netns', 'add', OTHER])).code, 0);
  assert.equal((await sh(['ip', 'link', 'add', 'lvdisc0ther', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', OTHER])).code, 0);
  const up = await run(['up', '--hosts', join(home, 'hosts.yaml')]);
  assert.equal(up.code, 0, up.stderr);
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
  // the other lab's namespace and link are still there
  assert.ok(netnsList().includes(OTHER));
  assert.equal((await sh(['ip', 'link', 'show', 'dev', 'lvdisc0ther'])).code, 0);
});
