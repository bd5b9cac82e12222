/**
 * `lab run <scenario> --impl lab,celery,rq,pyro` on a provisioned lab, from the controller: check the Python of
 * every host a peer will use (nothing starts when one lacks it), start the peers' workers for the run as worker
 * groups (ledger first, ready at their log lines), run the harness on the master host as for any run (runOnLab:
 * lab's modes and every peer's driver run there, interleaved), and stop the groups afterwards — also when the run
 * failed or was interrupted. The lab's lock is held meanwhile. Pyro's HMAC key is the lab's (state.json, 0600),
 * passed in environments only.
 */
import { UsageError } from '../errors.js';
import { acquireLock, pyroSecret } from '../topology/state.js';
import { HostWorkerGroups } from './controller-session.js';
import { isPeer, PEER_IMPLEMENTATIONS, peerPython, planImplementations } from './implementations.js';
import type { PeerName } from './implementations.js';
import type { PeerEndpoint } from './peers.js';
import { preflightPeers } from './peer-preflight.js';
import type { PreflightHost } from './peer-preflight.js';
import { runOnLab } from './run-on-lab.js';
import type { RunOnLabOptions, RunOnLabResult } from './run-on-lab.js';

export interface PeersOnLabOptions extends RunOnLabOptions {
  implementations: string[];
  /** What is happening before and after the run (checking hosts, starting workers), for the CLI to show. */
  onStep?: (text: string) => void;
}

/** Which hosts need which peers: the master (drivers), the workers hosts, the broker host for Pyro's name server. */
export function peerHosts(lab: RunOnLabOptions['lab'], impls: readonly PeerName[]): PreflightHost[] {
  const t = lab.topology;
  const need = new Map<string, Set<PeerName>>();
  const add = (host: string, impl: PeerName): void => void need.set(host, (need.get(host) ?? new Set()).add(impl));
  for (const impl of impls) {
    add(t.roleHost('master').name, impl);
    for (const h of t.roleHosts('workers')) add(h.name, impl);
    if (PEER_IMPLEMENTATIONS[impl].brokerHost) add(t.roleHost('broker').name, impl);
  }
  return [...need].map(([host, s]) => ({ host, impls: [...s] }));
}

export async function runPeersOnLab(o: PeersOnLabOptions): Promise<RunOnLabResult> {
  const { lab } = o;
  const plan = planImplementations(o.scenario, o.implementations);
  const peers = plan.map((i) => i.name).filter(isPeer);
  const label = `--impl ${o.implementations.join(',')}`;
  if (lab.topology.provider === 'docker') {
    throw new UsageError(`${label}: the peers do not run on docker hosts yet — the role images carry no Python (a later issue); use a netns, local or ssh lab`);
  }
  const release = await acquireLock(lab.ref.dir, lab.ref.name);
  const python = peerPython();
  let groups: HostWorkerGroups | null = null;
  try {
    o.onStep?.(`checking Python on ${peerHosts(lab, peers).map((h) => h.host).join(', ')} (${python})`);
    const versions = await preflightPeers(peerHosts(lab, peers), python, (host, argv) => lab.provider.exec(host, argv, { timeoutMs: 60_000 }), label);
    const pyroKey = peers.includes('pyro') ? await pyroSecret(lab.ref.dir) : undefined;
    groups = new HostWorkerGroups(lab, { python, pyroKey });
    const endpoints: Partial<Record<PeerName, PeerEndpoint>> = {};
    for (const impl of peers) {
      if (o.signal.aborted) break;
      o.onStep?.(`starting ${impl} workers on ${lab.topology.roleHosts('workers').map((h) => h.name).join(', ')}${impl === 'pyro' ? ` (name server on ${lab.topology.roleHost('broker').name})` : ''}`);
      const g = await groups.start({ name: impl, implementation: impl, queues: [], pool: 'prefork', concurrency: 0 });
      endpoints[impl] = g.peer!;
    }
    if (o.signal.aborted) return { record: null, exitCode: 130 };
    const master = lab.topology.roleHost('master').name;
    return await runOnLab({ ...o, peers: { python, host: master, versions, endpoints }, env: { ...o.env, ...(pyroKey ? { PYRO_HMAC_KEY: pyroKey } : {}) } });
  } finally {
    try {
      if (groups) {
        o.onStep?.(`stopping the ${peers.join(', ')} workers`);
        await groups.stopAll({ cold: o.signal.aborted });
      }
    } finally {
      await release();
    }
  }
}
