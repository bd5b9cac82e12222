/**
 * The faults a crashed lab process left applied (its owner is gone) are healed by the next lab command that
 * touches the lab — up, down, run, status, fault — before it does anything else. Returns lines for people.
 */
import type { OpenLab } from '../orchestrator/lab-ref.js';
import type { Provider } from '../providers/provider.js';
import type { Ledger } from '../topology/ledger.js';
import type { Topology } from '../topology/topology.js';
import { healLeftovers } from './apply.js';

export interface LeftoverLines {
  healed: number;
  lines: string[];
  failed: number;
}

/** `all`: every recorded fault, held ones too (lab down). */
export async function healLeftoverFaults(lab: { name: string; provider: Provider; ledger: Ledger; topology: Topology }, options: { all?: boolean } = {}): Promise<LeftoverLines> {
  const r = await healLeftovers({ lab: lab.name, provider: lab.provider, ledger: lab.ledger, topology: lab.topology }, options);
  const lines = [
    ...r.healed.map((f) => `healed fault ${f.id} (${f.text}) ${f.owner === null ? 'held since' : 'left by a lab process that is gone, applied'} ${f.startedAt}`),
    ...r.failures.map((f) => f.error),
  ];
  return { healed: r.healed.length, lines, failed: r.failures.length };
}

/** The same for an opened lab. */
export function healOpenLab(lab: OpenLab, options: { all?: boolean } = {}): Promise<LeftoverLines> {
  return healLeftoverFaults({ name: lab.ref.name, provider: lab.provider, ledger: lab.ledger, topology: lab.topology }, options);
}
