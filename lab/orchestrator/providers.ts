/** Provider by kind. Imported lazily: a local lab never loads ssh2, a netns lab never loads dockerode. */
import { ProviderError } from '../errors.js';
import type { PlanStep, Provider } from '../providers/provider.js';
import type { Ledger } from '../topology/ledger.js';
import type { Topology } from '../topology/topology.js';

export interface ProviderOptions {
  /** ssh: apt-get install missing service binaries. */
  install?: boolean;
}

function needRoot(): void {
  if (process.getuid?.() !== 0) throw new ProviderError('the netns provider creates network namespaces and must run as root (try sudo, or provider: local)', { code: 'E_NEED_ROOT' });
}

/**
 * What the lab's provider would create or check, in order (--dry-run). Made from the topology alone — nothing is
 * read or changed — so it is also the check of what only the provider can judge (root for netns, names in use,
 * one image per docker host) before anything exists.
 */
export async function planProvider(topology: Topology, stateDir: string, options: ProviderOptions = {}): Promise<PlanStep[]> {
  switch (topology.provider) {
    case 'local':
      return (await import('../providers/local.js')).localPlan(topology, stateDir);
    case 'netns':
      needRoot();
      return (await import('../providers/netns.js')).netnsPlan(topology);
    case 'ssh':
      return (await import('../providers/ssh.js')).sshPlan(topology, stateDir, options);
    case 'docker':
      return (await import('../providers/docker.js')).dockerPlan(topology, stateDir);
  }
}

/** The lab's provider, recording what it creates in `ledger` (the lab's, opened by the caller). */
export async function createProvider(topology: Topology, stateDir: string, ledger: Ledger, options: ProviderOptions = {}): Promise<Provider> {
  switch (topology.provider) {
    case 'local': {
      const { LocalProvider } = await import('../providers/local.js');
      return new LocalProvider(topology, stateDir, ledger);
    }
    case 'netns': {
      needRoot();
      const { NetnsProvider } = await import('../providers/netns.js');
      return new NetnsProvider(topology, stateDir, ledger);
    }
    case 'ssh': {
      const { SshProvider } = await import('../providers/ssh.js');
      return new SshProvider(topology, stateDir, ledger, options);
    }
    case 'docker': {
      const { DockerProvider } = await import('../providers/docker.js');
      return new DockerProvider(topology, stateDir, ledger);
    }
  }
}
