/**
 * The provider conformance suite on the docker provider, through Podman's Docker-compatible API (support/podman.ts):
 * two containers of the role images (`lab images build`, support/role-images.ts), nothing of this machine mounted —
 * HOST1 the Redis image (a Redis-only lab: broker and backend), HOST2 the node image.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DockerProvider } from '../../lab/providers/docker.js';
import { parseInventory } from '../../lab/topology/inventory.js';
import { podmanMissing, startPodman } from '../../support/podman.js';
import { roleImages } from '../../support/role-images.js';
import type { PodmanService } from '../../support/podman.js';
import { providerConformance } from './provider-conformance.js';

let home: string | null = null;
let podman: PodmanService | null = null;

providerConformance({
  kind: 'docker',
  missing: podmanMissing,
  async lab() {
    podman = await startPodman();
    home = await mkdtemp(join(tmpdir(), 'lab-conf-docker-'));
    const images = await roleImages(podman.socket);
    const lines = [`lab: cfd${randomBytes(3).toString('hex')}`, 'provider: docker', 'subnet: 198.19.214.0/24', 'broker: { kind: redis }', 'docker:', `  socket: ${JSON.stringify(podman.socket)}`];
    lines.push(`  images: { broker: "${images.broker}", backend: "${images.backend}", node: "${images.node}" }`, '  mounts: []');
    lines.push('hosts:', `  HOST1: { roles: [broker, backend], image: "${images.backend}" }`, '  HOST2: { roles: [workers, master] }', '');
    return { topology: await parseInventory(lines.join('\n'), join(home, 'hosts.yaml')), stateDir: join(home, 'state') };
  },
  provider: (lab, ledger) => new DockerProvider(lab.topology, lab.stateDir, ledger),
  async leftovers(lab) {
    // the processes were inside the containers: no container, no process
    const label = `lab.name=${lab.topology.name}`;
    const containers = (await podman!.engine.containersLabelled(label)).map((c) => `container ${c.name}`);
    const networks = (await podman!.engine.networksLabelled(label)).map((n) => `network ${n.name}`);
    return [...containers, ...networks];
  },
  async cleanup(lab) {
    if (podman) {
      if (lab) await podman.removeLabs([lab.topology.name]).catch(() => undefined);
      await podman.stop();
    }
    if (home) await rm(home, { recursive: true, force: true });
  },
  resolvesNames: true,
  missingCommand: 'throws',
});
