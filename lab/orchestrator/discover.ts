/**
 * `lab down --lab NAME --discover`: remove what a lab of that name made, found by its naming scheme rather than its
 * ledger — for when the state is gone (a deleted ~/.lab) and `lab down` alone would say "no lab is up". A ledger
 * that is still there is replayed first (labDown); then what the names find is removed:
 *   netns   (no inventory, or a netns one) on this machine: the bridge, namespaces, links, the processes inside
 *           its namespaces, its /etc/netns files and work folder (providers/netns-discover.ts). Needs root.
 *   docker  (--hosts names a docker inventory) on its engine: the containers and networks labelled with the lab's
 *           name and state directory (providers/docker-discover.ts).
 *   ssh     (--hosts names an ssh inventory) on its hosts: the processes and systemd units carrying the lab's
 *           token, and the work directories whose .lab-token holds it (providers/ssh-discover.ts).
 */
import { ProviderError } from '../errors.js';
import type { Progress } from '../providers/provider.js';
import type { DockerDiscovered } from '../providers/docker-discover.js';
import type { Discovered } from '../providers/netns-discover.js';
import type { SshDiscovered } from '../providers/ssh-discover.js';
import type { Topology } from '../topology/topology.js';
import { labDown } from './down.js';
import type { DownResult } from './down.js';
import type { LabRef } from './lab-ref.js';

export interface DiscoverResult {
  lab: string;
  provider: 'netns' | 'docker' | 'ssh';
  /** What the ledger replay did first (null: there was no ledger). */
  down: DownResult | null;
  /** netns */
  found?: Discovered;
  docker?: DockerDiscovered;
  ssh?: SshDiscovered;
  /** One line: what was found and removed. */
  summary: string;
  failures: string[];
}

const plural = (n: number, word: string, many = `${word}s`): string => `${n} ${n === 1 ? word : many}`;

/** `topology`: the lab's inventory (--hosts), which says the provider, the engine or the hosts to look on. */
export async function discoverDown(ref: LabRef, options: { progress: Progress; topology?: Topology }): Promise<DiscoverResult> {
  const provider = options.topology?.provider ?? 'netns';
  if (provider !== 'netns' && provider !== 'docker' && provider !== 'ssh') {
    throw new ProviderError(`lab down --discover finds netns, docker and ssh labs; a ${provider} lab's processes are this machine's, found by the ledger only`, { code: 'E_USAGE' });
  }
  if (provider === 'netns' && process.getuid?.() !== 0) throw new ProviderError('lab down --discover looks for network namespaces and must run as root', { code: 'E_NEED_ROOT' });
  let down: DownResult | null = null;
  try {
    down = await labDown(ref, { progress: options.progress });
  } catch (err) {
    // a ledger that cannot be replayed (its state gone): what the names find is removed below
    options.progress({ step: 'ledger', status: 'info', detail: `ledger replay: ${err instanceof Error ? err.message : String(err)}`, warning: true });
  }
  const say = (w: string): void => options.progress({ step: 'discover', status: 'info', detail: w });
  if (provider === 'docker') {
    const { discoverDocker } = await import('../providers/docker-discover.js');
    const d = await discoverDocker(options.topology!, ref.dir);
    for (const w of [...d.containers.map((c) => `container ${c}`), ...d.networks.map((n) => `network ${n}`), ...d.kept]) say(w);
    const count = d.containers.length + d.networks.length;
    return { lab: ref.name, provider, down, docker: d, summary: `found by name and removed ${plural(count, 'thing')} (${plural(d.containers.length, 'container')}, ${plural(d.networks.length, 'network')}) on ${d.engine}${d.kept.length > 0 ? `; left alone ${d.kept.length} of another lab of this name` : ''}`, failures: d.failures };
  }
  if (provider === 'ssh') {
    const { discoverSsh } = await import('../providers/ssh-discover.js');
    const d = await discoverSsh(options.topology!, ref.dir);
    for (const w of [...d.found, ...d.kept]) say(w);
    const count = d.processes + d.units + d.folders;
    return { lab: ref.name, provider, down, ssh: d, summary: `found by its token and removed ${plural(count, 'thing')} (${plural(d.processes, 'process', 'processes')}, ${plural(d.units, 'unit')}, ${plural(d.folders, 'work directory', 'work directories')}) on ${plural(options.topology!.hosts.length, 'host')}${d.kept.length > 0 ? `; left alone ${d.kept.length} not provably this lab's` : ''}`, failures: d.failures };
  }
  const { discoverNetns, removeDiscovered } = await import('../providers/netns-discover.js');
  const found = await discoverNetns(ref.name);
  const what = [...found.processes.map((p) => `process ${p.pid} in ${p.namespace}: ${p.command.slice(0, 80)}`), ...found.links.map((l) => `link ${l}`), ...found.namespaces.map((n) => `namespace ${n}`), ...(found.bridge ? [`bridge ${found.bridge}`] : []), ...found.files];
  for (const w of what) say(w);
  const failures = await removeDiscovered(found);
  const count = found.processes.length + found.links.length + found.namespaces.length + (found.bridge ? 1 : 0) + found.files.length;
  const summary = `found by name and removed ${count} thing${count === 1 ? '' : 's'} (${found.processes.length} processes, ${found.namespaces.length} namespaces, ${found.links.length} links, ${found.bridge ? 'the bridge' : 'no bridge'}, ${found.files.length} files)`;
  return { lab: ref.name, provider, down, found, summary, failures };
}
