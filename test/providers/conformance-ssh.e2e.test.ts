/**
 * The provider conformance suite on the ssh provider: two sshd servers, each in its own network namespace on this
 * machine (test/support/sshd-lab.ts), logged into as root with a generated key.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findByToken } from '../../lab/providers/local-process.js';
import { SshProvider } from '../../lab/providers/ssh.js';
import { parseInventory } from '../../lab/topology/inventory.js';
import { startSshdLab } from '../../support/sshd-lab.js';
import type { SshdLab } from '../../support/sshd-lab.js';
import { providerConformance } from './provider-conformance.js';

let home: string | null = null;
let sshd: SshdLab | null = null;

providerConformance({
  kind: 'ssh',
  async missing() {
    if (process.getuid?.() !== 0) return 'the sshd lab is made of network namespaces: run as root';
    return existsSync('/usr/sbin/sshd') ? null : '/usr/sbin/sshd not found: apt-get install -y openssh-server';
  },
  async lab() {
    sshd = await startSshdLab(2);
    home = await mkdtemp(join(tmpdir(), 'lab-conf-ssh-'));
    const lines = [`lab: cfs${randomBytes(3).toString('hex')}`, 'provider: ssh', `defaults: { user: root, key: ${sshd.clientKey}, sudo: true }`, 'hosts:'];
    lines.push(`  HOST1: { roles: [broker, backend], address: ${sshd.hosts[0]!.address} }`, `  HOST2: { roles: [workers, master], address: ${sshd.hosts[1]!.address} }`, '');
    return { topology: await parseInventory(lines.join('\n'), join(home, 'hosts.yaml')), stateDir: join(home, 'state') };
  },
  provider: (lab, ledger) => new SshProvider(lab.topology, lab.stateDir, ledger, { agent: null, defaultKeyDir: null }),
  async leftovers(lab, tokens) {
    const found: string[] = [];
    for (const h of sshd!.hosts) if ((await readFile(h.hostsFile, 'utf8')).includes(`# BEGIN lab ${lab.topology.name}`)) found.push(`hosts block in ${h.hostsFile}`);
    for (const dir of [`/root/.lab/${lab.topology.name}`, `/var/lib/lab/${lab.topology.name}`]) if (existsSync(dir)) found.push(dir);
    for (const token of tokens) for (const pid of await findByToken(token)) found.push(`process ${pid}`); // one machine: /proc is theirs
    return found;
  },
  async cleanup() {
    await sshd?.cleanup();
    if (home) await rm(home, { recursive: true, force: true });
  },
  resolvesNames: true,
  missingCommand: 'exit 127',
});
