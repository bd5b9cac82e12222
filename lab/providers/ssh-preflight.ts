/**
 * The ssh provider's preflight: before anything is made on a host, check that it can play its roles — Node ≥ 20
 * (and tar, to unpack the shipped lab) where lab itself runs — or, with `install` / `node: ship`, the arch of the Node
 * lab ships there (ssh-node.ts) —, rabbitmq-server / redis-server where the broker /
 * backend run — or, with `install`, apt-get what is missing. Installed packages are recorded (kind 'package') and
 * never uninstalled: `lab down` says so instead.
 */
import { ProviderError } from '../errors.js';
import type { Ledger, LedgerEntry } from '../topology/ledger.js';
import type { HostSpec, Role } from '../topology/topology.js';
import type { LabArch } from '../images/arch.js';
import { envArgv, quoteArgv } from './shell-quote.js';
import { nodeArchOf } from './ssh-node.js';
import { firstLine } from './ssh-hosts.js';
import type { HostFacts, HostUp, SshHosts } from './ssh-hosts.js';

/** Roles whose hosts run lab itself (need Node ≥ 20 and the shipped lab). */
const NODE_ROLES: readonly Role[] = ['workers', 'master', 'quotes'];
/** Roles whose hosts run a server from a Debian package. */
const SERVICE_PACKAGES: Partial<Record<Role, { command: string; package: string }>> = {
  broker: { command: 'rabbitmq-server', package: 'rabbitmq-server' },
  backend: { command: 'redis-server', package: 'redis-server' },
};
export const MIN_NODE_MAJOR = 20;

/** Does this host run lab itself (workers, master, quotes)? */
export function runsLab(h: Readonly<HostSpec>): boolean {
  return h.roles.some((r) => NODE_ROLES.includes(r));
}

/** What the preflight of a host checks, for the plan. */
export function preflightChecks(h: Readonly<HostSpec>, install: boolean): string {
  const checks = ['uname -sm'];
  if (runsLab(h)) checks.push(h.node === 'ship' ? 'uname -m for the Node lab ships' : `node --version ≥ ${MIN_NODE_MAJOR}${install ? ' (else lab ships Node 20)' : ''}`);
  for (const r of h.roles) {
    const s = SERVICE_PACKAGES[r];
    if (s) checks.push(install ? `${s.command} (apt-get install -y ${s.package} if missing)` : `${s.command} present`);
  }
  return checks.join('; ');
}

/** "Something lab up installed": what `lab down` says instead of uninstalling it. */
export function packageNotice(entry: LedgerEntry): string | null {
  if (entry.kind !== 'package') return null;
  const d = entry.data as { host?: string; package?: string };
  return `${d.host ?? '?'}: ${d.package ?? '?'} was installed by lab up and is left installed (remove it with: sudo apt-get remove ${d.package ?? '<package>'})`;
}

/**
 * Probe the host afresh and check it against its roles (installing what is missing when allowed). Resolves with
 * what the host has, and whether a package had to be installed.
 */
export async function preflight(hosts: SshHosts, ledger: Ledger, h: Readonly<HostSpec>, install: boolean, up: HostUp, shippedBefore = false): Promise<{ facts: HostFacts; changed: boolean; shipNode?: LabArch }> {
  const host = h.name;
  let changed = false;
  let shipNode: LabArch | undefined;
  const facts = await up.step('preflight', 'uname, node, services', async () => {
    const f = await hosts.hostFacts(host, true); // fresh facts on every up
    if (runsLab(h)) {
      const major = Number(/^v?(\d+)\./.exec(f.nodeVersion ?? '')?.[1]);
      const usable = f.node !== undefined && major >= MIN_NODE_MAJOR;
      // node: ship always brings lab's own Node; --install (or an earlier up that shipped it) only where the host's is missing or too old
      if (h.node === 'ship' || ((install || shippedBefore) && !usable)) shipNode = nodeArchOf(host, f.uname);
      else if (!f.node || !f.nodeVersion) {
        throw new ProviderError(`node not found (on the PATH of a non-interactive ssh session), lab needs Node ≥ ${MIN_NODE_MAJOR} — install Node ${MIN_NODE_MAJOR}, or let lab bring it for its own processes: lab up --install (or node: ship in the inventory)`, { host, code: 'E_NODE_MISSING' });
      } else if (!usable) {
        throw new ProviderError(`Node ${f.nodeVersion} found, lab needs Node ≥ ${MIN_NODE_MAJOR} — install Node ${MIN_NODE_MAJOR}, or let lab bring it for its own processes: lab up --install (or node: ship in the inventory)`, { host, code: 'E_NODE_VERSION' });
      }
      if (!f.hasTar) throw new ProviderError('tar not found: lab is shipped as a tarball — install tar', { host, code: 'E_COMMAND_NOT_FOUND' });
    }
    for (const r of h.roles) {
      const s = SERVICE_PACKAGES[r];
      if (!s || f.commands[s.command]) continue;
      if (!install) {
        throw new ProviderError(`${s.command} not found — install it (sudo apt-get install -y ${s.package}) or run lab up with --install`, { host, code: 'E_COMMAND_NOT_FOUND' });
      }
      await installPackage(hosts, ledger, host, s.package, s.command, up);
      changed = true;
      const again = await hosts.hostFacts(host, true);
      if (!again.commands[s.command]) throw new ProviderError(`${s.command} still not found after apt-get install ${s.package}`, { host, code: 'E_INSTALL' });
    }
    return hosts.hostFacts(host);
  });
  const found = [facts.uname, facts.nodeVersion ? `node ${facts.nodeVersion}` : null, shipNode ? `lab brings Node for ${shipNode}` : null, ...Object.keys(facts.commands)].filter(Boolean).join(', ');
  // connect and preflight create nothing: 'info', so a second `up` on a healthy lab reports no change
  up.progress({ host, step: 'preflight', status: 'info', detail: found });
  return { facts, changed, ...(shipNode ? { shipNode } : {}) };
}

async function installPackage(hosts: SshHosts, ledger: Ledger, host: string, pkg: string, command: string, up: HostUp): Promise<void> {
  const prefix = await hosts.asRoot(host, `apt-get install ${pkg}`);
  up.progress({ host, step: 'install', status: 'start', detail: `apt-get install -y ${pkg} (for ${command})` });
  const key = `package:${host}:${pkg}`;
  await ledger.record('package', key, { host, package: pkg });
  const apt = (args: string[]): string => quoteArgv([...prefix, ...envArgv({ DEBIAN_FRONTEND: 'noninteractive' }, ['apt-get', ...args])]);
  let r = await hosts.run(host, apt(['install', '-y', '--no-install-recommends', pkg]), { timeoutMs: 20 * 60_000 });
  hosts.checkSudo(host, prefix, r);
  if (r.exitCode !== 0 && /Unable to locate package|404\s+Not Found|has no installation candidate/i.test(r.stderr.toString('utf8') + r.stdout.toString('utf8'))) {
    up.progress({ host, step: 'install', status: 'info', detail: 'apt-get update (package lists are stale)' });
    await hosts.run(host, apt(['update']), { timeoutMs: 10 * 60_000 });
    r = await hosts.run(host, apt(['install', '-y', '--no-install-recommends', pkg]), { timeoutMs: 20 * 60_000 });
  }
  if (r.exitCode !== 0) {
    up.progress({ host, step: 'install', status: 'fail', detail: pkg });
    throw new ProviderError(`apt-get install ${pkg} failed (exit ${r.exitCode}): ${firstLine(r.stderr) || firstLine(r.stdout)}`, { host, code: 'E_INSTALL' });
  }
  await ledger.markDone(key);
  up.progress({ host, step: 'install', status: 'done', detail: `${pkg} installed (lab down will leave it installed)` });
}
