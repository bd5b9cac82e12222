/**
 * `lab down --lab NAME --discover --hosts INVENTORY` for a docker lab whose state (and ledger) is gone: the
 * containers and networks on the inventory's engine that carry the lab's labels — lab.name = NAME and lab.state =
 * its state directory (docker-layout.ts): what this lab made, not another lab of the same name from another home,
 * which is reported and left alone. Containers go with their anonymous volumes and every process in them.
 */
import type { Topology } from '../topology/topology.js';
import { DockerLayout, LABEL_LAB, LABEL_STATE } from './docker-layout.js';

export interface DockerDiscovered {
  engine: string;
  containers: string[];
  networks: string[];
  /** Things labelled with the lab's name but made from another state directory: left alone. */
  kept: string[];
  failures: string[];
}

export async function discoverDocker(topology: Topology, stateDir: string): Promise<DockerDiscovered> {
  const layout = new DockerLayout(topology, stateDir);
  const { DockerEngine, engineTarget } = await import('./docker-engine.js');
  const engine = new DockerEngine(engineTarget(layout.docker.socket));
  const out: DockerDiscovered = { engine: engine.target.describe, containers: [], networks: [], kept: [], failures: [] };
  const label = `${LABEL_LAB}=${topology.name}`;
  const mine = (labels: Record<string, string>): boolean => labels[LABEL_LAB] === topology.name && labels[LABEL_STATE] === stateDir;
  for (const c of await engine.containersLabelled(label)) {
    if (!mine(c.labels)) {
      out.kept.push(`container ${c.name} (lab ${topology.name} of ${c.labels[LABEL_STATE] ?? 'no state label'}: left alone)`);
      continue;
    }
    out.containers.push(c.name);
    await engine.removeContainer(c.id).catch((err: unknown) => out.failures.push(`container ${c.name}: ${err instanceof Error ? err.message : String(err)}`));
  }
  for (const n of await engine.networksLabelled(label)) {
    if (!mine(n.labels)) {
      out.kept.push(`network ${n.name} (lab ${topology.name} of ${n.labels[LABEL_STATE] ?? 'no state label'}: left alone)`);
      continue;
    }
    out.networks.push(n.name);
    await engine.removeNetwork(n.id).catch((err: unknown) => out.failures.push(`network ${n.name}: ${err instanceof Error ? err.message : String(err)}`));
  }
  return out;
}
