/**
 * What to ask each host in its one batched check (providers/host-check.ts): the processes the ledger recorded for
 * the given service keys, their supervisors' status files, and — for `lab up` — the lab's host names to resolve.
 * Every host of the topology gets a request (an empty one still tells whether it is reachable).
 */
import { refOf } from '../providers/provider.js';
import type { HostCheckRequest } from '../providers/host-check.js';
import type { ProcessRef } from '../providers/provider.js';
import { statusPathOf } from '../services/supervision.js';
import type { LedgerEntry, Ledger } from '../topology/ledger.js';
import type { Topology } from '../topology/topology.js';

/** The host a ledger entry (or the process it names) is on. */
export function entryHost(entry: LedgerEntry, ref: ProcessRef | null): string {
  return (entry.data as { host?: string }).host ?? ref?.host ?? '';
}

export interface RequestOptions {
  /** Read the supervisors' status files too (`lab status`; `lab up` needs only whether the processes run). */
  statusFiles?: boolean;
  /** Names every host must resolve (`lab up`). */
  resolve?: readonly string[];
  timeoutMs?: number;
}

export function hostCheckRequests(topology: Topology, ledger: Ledger, keys: readonly string[], o: RequestOptions = {}): Map<string, HostCheckRequest> {
  const out = new Map<string, { processes: ProcessRef[]; files: string[]; resolve?: readonly string[]; timeoutMs?: number }>();
  for (const h of topology.hosts) out.set(h.name, { processes: [], files: [], ...(o.resolve ? { resolve: o.resolve } : {}), ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}) });
  for (const key of keys) {
    const entry = ledger.get(key);
    if (!entry) continue;
    const ref = entry.state === 'done' ? refOf(entry) : null;
    const req = out.get(entryHost(entry, ref));
    if (!req) continue;
    if (ref) req.processes.push(ref);
    const status = statusPathOf(entry);
    if (status && o.statusFiles) req.files.push(status);
  }
  return out;
}
