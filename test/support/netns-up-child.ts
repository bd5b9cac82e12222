/**
 * Child process for the netns kill -9 test: brings a lab up the way `lab up` would (up, hosts files, one
 * long-running process) and prints one JSON line per progress event, so the parent can kill it at chosen points.
 *   node netns-up-child.js <stateDir> <inventory file>
 */
import { join } from 'node:path';
import { NetnsProvider } from '../../lab/providers/netns.js';
import { loadInventory } from '../../lab/topology/inventory.js';
import { Ledger } from '../../lab/topology/ledger.js';
import { newState } from '../../lab/topology/state.js';

const [stateDir, inventory] = process.argv.slice(2);
if (!stateDir || !inventory) {
  process.stderr.write('usage: netns-up-child <stateDir> <inventory>\n');
  process.exit(2);
}
const say = (o: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify(o)}\n`);

const topology = await loadInventory(inventory);
const ledger = await Ledger.open(stateDir);
const provider = new NetnsProvider(topology, stateDir, ledger);
say({ ready: true });
await provider.up({ state: newState(topology), progress: (e) => say({ event: e }) });
const entries = topology.hosts.map((h) => ({ address: h.address, names: [h.name] }));
for (const h of topology.hosts) {
  await provider.writeHosts(h.name, entries);
  say({ event: { host: h.name, step: 'hosts file', status: 'done' } });
}
const h1 = topology.hosts[0]!.name;
await provider.spawn(h1, ['sleep', '3600'], { key: `proc:${h1}:sleep`, logFile: join(provider.host(h1).workDir, 'logs', 'sleep.log') });
say({ event: { host: h1, step: 'spawn', status: 'done' } });
say({ finished: true });
