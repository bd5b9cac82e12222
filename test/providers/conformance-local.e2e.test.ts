/** The provider conformance suite on the local provider: both hosts are this machine, as child processes. */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findByToken } from '../../lab/providers/local-process.js';
import { LocalProvider } from '../../lab/providers/local.js';
import { parseInventory } from '../../lab/topology/inventory.js';
import { providerConformance } from './provider-conformance.js';

let home: string | null = null;

providerConformance({
  kind: 'local',
  missing: async () => null, // sh, sleep and getent are everywhere lab runs
  async lab() {
    home = await mkdtemp(join(tmpdir(), 'lab-conf-local-'));
    const text = [`lab: cfl${randomBytes(3).toString('hex')}`, 'provider: local', 'hosts:', '  HOST1: { roles: [broker, backend] }', '  HOST2: { roles: [workers, master] }', ''].join('\n');
    return { topology: await parseInventory(text, join(home, 'hosts.yaml')), stateDir: join(home, 'state') };
  },
  provider: (lab, ledger) => new LocalProvider(lab.topology, lab.stateDir, ledger),
  async leftovers(lab, tokens) {
    const found: string[] = [];
    for (const h of lab.topology.hosts) if (existsSync(join(lab.stateDir, 'hosts', h.name))) found.push(`work directory of ${h.name}`);
    for (const token of tokens) for (const pid of await findByToken(token)) found.push(`process ${pid}`);
    return found;
  },
  async cleanup() {
    if (home) await rm(home, { recursive: true, force: true });
  },
  resolvesNames: false,
  missingCommand: 'throws',
});
