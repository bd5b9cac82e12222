import test from 'node:test';
import assert from 'node:assert/strict';
import { hasCode } from '../../lab/errors.js';
import { sshPlan } from '../../lab/providers/ssh.js';
import { nodeArchOf, shippedNodePath } from '../../lab/providers/ssh-node.js';
import { parseInventory } from '../../lab/topology/inventory.js';

const inventory = (host3: string): string =>
  ['lab: pis', 'provider: ssh', 'hosts:', '  HOST1: { address: 192.168.1.11 }', '  HOST2: { address: 192.168.1.12 }', `  HOST3: { address: 192.168.1.13${host3} }`, '  HOST4: { address: 192.168.1.14 }', ''].join('\n');

test('ship node: where it goes, and the host named when its arch has no Node 20', () => {
  assert.equal(shippedNodePath('/home/pi/.lab/pis/HOST3'), '/home/pi/.lab/pis/HOST3/node/bin/node');
  assert.equal(nodeArchOf('HOST3', 'Linux armv7l'), 'armhf');
  assert.throws(() => nodeArchOf('HOST3', 'Linux armv6l'), (e: unknown) => hasCode(e, 'E_ARCH') && /^HOST3: armv6l: Node 20 has no build/.test((e as Error).message));
});

test('plan: node: ship ships Node on that host; --install says it would where a host lacks Node ≥ 20; else nothing', async () => {
  const steps = (t: Awaited<ReturnType<typeof parseInventory>>, install: boolean): string[] => sshPlan(t, '/tmp/state', { install }).filter((s) => s.step === 'ship node').map((s) => `${s.host}: ${s.detail}`);
  const ship = await parseInventory(inventory(', node: ship'), '/tmp/pis.yaml');
  assert.equal(ship.host('HOST3')!.node, 'ship');
  const shipped = steps(ship, false);
  assert.equal(shipped.length, 1);
  assert.match(shipped[0]!, /^HOST3: Node 20 from the npm registry's node-linux-<arch> package \(uname -m\), sha512-checked here and on the host → <work directory>\/node\/bin\/node, for lab's processes only; removed by lab down$/);
  const plain = await parseInventory(inventory(''), '/tmp/pis.yaml');
  assert.deepEqual(steps(plain, false), []);
  assert.deepEqual(steps(plain, true).map((s) => s.split(':')[0]), ['HOST3', 'HOST4'], 'the hosts that run lab');
  assert.match(steps(plain, true)[0]!, /^HOST3: if the host has no Node ≥ 20: /);
});
