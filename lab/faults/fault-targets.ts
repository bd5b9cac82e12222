/**
 * What a fault acts on: a service's processes (its instances as its supervisor reports them, and everything they
 * started — RabbitMQ's script starts the Erlang VM, a prefork worker its children), found through the provider on
 * the host they run on, each by pid AND start time.
 */
import type { Provider } from '../providers/provider.js';
import { refOf } from '../providers/provider.js';
import { readSupervisorStatus, supervisionOf, entryMode } from '../services/supervision.js';
import type { Ledger, LedgerEntry } from '../topology/ledger.js';
import { parseProcStat } from '../topology/proc.js';
import type { ProcStat } from '../topology/proc.js';
import type { Topology } from '../topology/topology.js';
import { FaultError } from './fault.js';
import type { ServiceTarget } from './fault.js';

export interface ServiceProcs {
  host: string;
  service: string;
  entry: LedgerEntry;
  /** lab: supervised by lab's supervisor (restarts, status file) · systemd · none. */
  mode: 'lab' | 'systemd' | 'none';
  /** The service's own processes (its instances). */
  roots: ProcStat[];
  /** roots and all their descendants. */
  tree: ProcStat[];
  /** lab-supervised: the status file to read recoveries from. */
  statusFile?: string;
}

/** The host's name as the topology spells it (names compare case-insensitively). */
export function hostName(topology: Topology, name: string): string {
  const h = topology.host(name);
  if (!h) throw new FaultError('E_FAULT_REFUSED', `no host ${name} in lab ${topology.name} (hosts: ${topology.hosts.map((x) => x.name).join(', ')})`);
  return h.name;
}

/** The ledger entries of a service: proc:<HOST>:<service> on the host named, or on every host that runs it. */
export function serviceEntries(ledger: Ledger, topology: Topology, target: ServiceTarget): LedgerEntry[] {
  const host = target.host === undefined ? undefined : hostName(topology, target.host);
  const procs = ledger.entries().filter((e) => /^proc:[^:]+:[^:]+$/.test(e.key));
  const found = procs.filter((e) => {
    const [, h, s] = e.key.split(':');
    return s === target.service && (host === undefined || h === host);
  });
  if (found.length === 0) {
    const known = [...new Set(procs.map((e) => `${e.key.split(':')[2]}@${e.key.split(':')[1]}`))].sort();
    throw new FaultError('E_FAULT_REFUSED', `no service ${target.service}${host ? `@${host}` : ''} in lab ${topology.name} (services: ${known.join(', ') || 'none is up'})`);
  }
  return found;
}

/** Every process on a host, from /proc/<pid>/stat (one command; the host's own PID namespace). */
export async function processTable(provider: Provider, host: string): Promise<Map<number, ProcStat>> {
  const r = await provider.exec(host, ['sh', '-c', 'cat /proc/[0-9]*/stat 2>/dev/null; true']);
  const out = new Map<number, ProcStat>();
  for (const line of r.stdout.split('\n')) {
    const st = parseProcStat(line);
    if (st && st.state !== 'Z') out.set(st.pid, st);
  }
  return out;
}

/** A process and everything below it. */
export function descendants(table: Map<number, ProcStat>, roots: readonly ProcStat[]): ProcStat[] {
  const children = new Map<number, ProcStat[]>();
  for (const p of table.values()) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
  const out: ProcStat[] = [];
  const seen = new Set<number>();
  const walk = (p: ProcStat): void => {
    if (seen.has(p.pid)) return;
    seen.add(p.pid);
    out.push(p);
    for (const c of children.get(p.pid) ?? []) walk(c);
  };
  roots.forEach(walk);
  return out;
}

/** The processes of one recorded service now. A service with no running process is refused (nothing to break). */
export async function serviceProcs(provider: Provider, entry: LedgerEntry): Promise<ServiceProcs> {
  const [, host, service] = entry.key.split(':') as [string, string, string];
  const sup = await supervisionOf(provider, entry, refOf(entry));
  const table = await processTable(provider, host);
  const roots = sup.pids.map((pid) => table.get(pid)).filter((p): p is ProcStat => p !== undefined);
  if (roots.length === 0) throw new FaultError('E_FAULT_REFUSED', `${service}@${host} has no running process (${sup.state}); nothing to break`);
  const out: ServiceProcs = { host, service, entry, mode: entryMode(entry), roots, tree: descendants(table, roots) };
  const status = (entry.data as { status?: unknown }).status;
  if (out.mode === 'lab' && typeof status === 'string') out.statusFile = status;
  return out;
}

/**
 * After a kill or restart at `since` (epoch ms): wait until the supervisor has every one of `instances` ready
 * again, and return how long that took from `since` (ms) — or null when nothing restarts it or it did not come
 * back within `timeoutMs`.
 */
export async function waitRecovered(provider: Provider, procs: ServiceProcs, since: number, timeoutMs: number, signal?: AbortSignal): Promise<number | null> {
  if (procs.mode !== 'lab' || !procs.statusFile) return null;
  const want = procs.roots.length;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !signal?.aborted) {
    const st = await readSupervisorStatus(provider, procs.host, procs.statusFile);
    const back = (st?.history ?? []).filter((h) => Date.parse(h.exitedAt) >= since - 1000 && h.readyAt !== null);
    if (back.length >= want) return Math.max(...back.map((h) => Date.parse(h.readyAt!))) - since;
    await new Promise((r) => setTimeout(r, 100));
  }
  return null;
}
