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
  // Each labelled thing: removed when this lab made it, else reported and left alone.
  const sweep = async (what: string, items: { id: string; name: string; labels: Record<string, string> }[], remove: (id: string) => Promise<unknown>, into: string[]): Promise<void> => {
    for (const x of items) {
      if (!mine(x.labels)) {
        out.kept.push(`${what} ${x.name} (lab ${topology.name} of ${x.labels[LABEL_STATE] ?? 'no state label'}: left alone)`);
        continue;
      }
      into.push(x.name);
      await remove(x.id).catch((err: unknown) => out.failures.push(`${what} ${x.name}: ${err instanceof Error ? err.message : String(err)}`));
    }
  };
  await sweep('container', await engine.containersLabelled(label), (id) => engine.removeContainer(id), out.containers);
  await sweep('network', await engine.networksLabelled(label), (id) => engine.removeNetwork(id), out.networks);
  return out;
}
