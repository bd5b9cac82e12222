/**
 * `lab down --lab NAME --discover`: remove what a lab of that name made, found by its naming scheme rather than its
 * ledger — for when the state is gone (a deleted ~/.lab) and `lab down` alone would say "no lab is up". A ledger
 * that is still there is replayed first (labDown); then what the names find on this machine is removed: a netns
 * lab's bridge, namespaces, links, the processes inside its namespaces, its /etc/netns files and work folder
 * (providers/netns-discover.ts). Needs root (namespaces).
 */
import { ProviderError } from '../errors.js';
import type { Progress } from '../providers/provider.js';
import type { Discovered } from '../providers/netns-discover.js';
import { labDown } from './down.js';
import type { DownResult } from './down.js';
import type { LabRef } from './lab-ref.js';

export interface DiscoverResult {
  lab: string;
  /** What the ledger replay did first (null: there was no ledger). */
  down: DownResult | null;
  found: Discovered;
  failures: string[];
}

export async function discoverDown(ref: LabRef, options: { progress: Progress }): Promise<DiscoverResult> {
  if (process.getuid?.() !== 0) throw new ProviderError('lab down --discover looks for network namespaces and must run as root', { code: 'E_NEED_ROOT' });
  let down: DownResult | null = null;
  try {
    down = await labDown(ref, { progress: options.progress });
  } catch (err) {
    // a ledger that cannot be replayed (its state gone): what the names find is removed below
    options.progress({ step: 'ledger', status: 'info', detail: `ledger replay: ${err instanceof Error ? err.message : String(err)}`, warning: true });
  }
  const { discoverNetns, removeDiscovered } = await import('../providers/netns-discover.js');
  const found = await discoverNetns(ref.name);
  const what = [...found.processes.map((p) => `process ${p.pid} in ${p.namespace}: ${p.command.slice(0, 80)}`), ...found.links.map((l) => `link ${l}`), ...found.namespaces.map((n) => `namespace ${n}`), ...(found.bridge ? [`bridge ${found.bridge}`] : []), ...found.files];
  for (const w of what) options.progress({ step: 'discover', status: 'info', detail: w });
  const failures = await removeDiscovered(found);
  return { lab: ref.name, down, found, failures };
}
