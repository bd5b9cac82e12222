/** The provider conformance suite on the netns provider: two network namespaces on a bridge (root). */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findByToken } from '../../lab/providers/local-process.js';
import { NETNS_WORK_BASE, NetnsProvider } from '../../lab/providers/netns.js';
import { parseInventory } from '../../lab/topology/inventory.js';
import { forceClean, leftovers } from '../support/netns-lab.js';
import { providerConformance } from './provider-conformance.js';

let home: string | null = null;

providerConformance({
  kind: 'netns',
  missing: async () => (process.getuid?.() === 0 ? null : 'network namespaces need root'),
  async lab() {
    home = await mkdtemp(join(tmpdir(), 'lab-conf-netns-'));
    const file = join(home, 'hosts.yaml');
    const text = [`lab: cfn${randomBytes(3).toString('hex')}`, 'provider: netns', 'subnet: 198.18.202.0/24', 'hosts:', '  HOST1: { roles: [broker, backend] }', '  HOST2: { roles: [workers, master] }', ''].join('\n');
    await writeFile(file, text);
    return { topology: await parseInventory(text, file), stateDir: join(home, 'state') };
  },
  provider: (lab, ledger) => new NetnsProvider(lab.topology, lab.stateDir, ledger),
  async leftovers(lab, tokens) {
    const found = await leftovers(lab.topology, lab.stateDir); // namespaces, veths, bridge, /etc/netns, processes
    if (existsSync(join(NETNS_WORK_BASE, lab.topology.name))) found.push(join(NETNS_WORK_BASE, lab.topology.name));
    for (const token of tokens) for (const pid of await findByToken(token)) found.push(`process ${pid}`);
    return found;
  },
  async cleanup(lab) {
    if (lab) await forceClean(lab.topology, null).catch(() => undefined);
    if (home) await rm(home, { recursive: true, force: true });
  },
  resolvesNames: true,
  missingCommand: 'throws',
});
