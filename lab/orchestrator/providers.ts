/** Provider by kind. Imported lazily: a local lab never loads ssh2, a netns lab never loads dockerode. */
import { ProviderError } from '../errors.js';
import type { Provider } from '../providers/provider.js';
import type { Topology } from '../topology/topology.js';

export async function createProvider(topology: Topology, stateDir: string, options: { install?: boolean } = {}): Promise<Provider> {
  switch (topology.provider) {
    case 'local': {
      const { LocalProvider } = await import('../providers/local.js');
      return new LocalProvider(topology, stateDir);
    }
    case 'netns': {
      if (process.getuid?.() !== 0) throw new ProviderError('the netns provider creates network namespaces and must run as root (try sudo, or provider: local)', { code: 'E_NEED_ROOT' });
      const { NetnsProvider } = await import('../providers/netns.js');
      return new NetnsProvider(topology, stateDir);
    }
    case 'ssh': {
      const { SshProvider } = await import('../providers/ssh.js');
      return new SshProvider(topology, stateDir, options);
    }
    case 'docker': {
      const { DockerProvider } = await import('../providers/docker.js');
      return new DockerProvider(topology, stateDir);
    }
  }
}
