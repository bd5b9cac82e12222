/**
 * `lab down`: undo exactly what the ledger recorded, newest first — services stopped first and in parallel, then
 * the rest — and report what could not be removed. Safe to run twice; works after `lab up` was killed with -9.
 */
import { performance } from 'node:perf_hooks';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { Ledger } from '../topology/ledger.js';
import type { LedgerEntry } from '../topology/ledger.js';
import { acquireLock, clearActiveLab, readState, stateTopology } from '../topology/state.js';
import { loadInventory } from '../topology/inventory.js';
import type { Topology } from '../topology/topology.js';
import { PROCESS_KINDS } from '../providers/provider.js';
import type { Progress } from '../providers/provider.js';
import { createProvider } from './providers.js';
import type { LabRef } from './lab-ref.js';

/** Services get this long after SIGTERM before SIGKILL: their data goes with the lab. */
const DOWN_GRACE_MS = 1000;

export interface DownResult {
  lab: string;
  removed: number;
  failures: { key: string; kind: string; error: string }[];
  durationMs: number;
  /** Nothing was recorded: the lab was not up. */
  nothing: boolean;
  notes: string[];
}

function describe(e: LedgerEntry): string {
  const d = e.data as Record<string, unknown>;
  return `${e.kind} ${e.key}${typeof d.host === 'string' ? ` on ${d.host}` : ''}`;
}

/**
 * Remove the lab's state folder — all but its known_hosts: the host keys pinned on first contact stay pinned for
 * the next `lab up` of this lab (a changed key is then still refused, not accepted as new).
 */
async function removeStateDir(dir: string): Promise<void> {
  const kept = new Set(['known_hosts']);
  const names = await readdir(dir).catch(() => [] as string[]);
  await Promise.all(names.filter((n) => !kept.has(n)).map((n) => rm(join(dir, n), { recursive: true, force: true })));
  if (!names.some((n) => kept.has(n))) await rm(dir, { recursive: true, force: true });
}

export async function labDown(ref: LabRef, options: { progress: Progress; hostsFile?: string }): Promise<DownResult> {
  const t0 = performance.now();
  const release = await acquireLock(ref.dir, ref.name);
  try {
    const ledger = await Ledger.open(ref.dir);
    const state = await readState(ref.dir);
    const entries = ledger.entries();
    const notes: string[] = [];
    if (entries.length === 0) {
      await removeStateDir(ref.dir);
      await clearActiveLab(ref.name);
      return { lab: ref.name, removed: 0, failures: [], durationMs: performance.now() - t0, nothing: !state, notes };
    }
    let topology: Topology;
    if (state) topology = stateTopology(state);
    else if (options.hostsFile) topology = await loadInventory(options.hostsFile);
    else throw new UsageError(`lab ${ref.name} has a ledger but no state: run lab down --hosts <its inventory>`);
    const provider = await createProvider(topology, ref.dir, ledger);
    const failures: DownResult['failures'] = [];
    let removed = 0;
    // Faults first (a paused service continued, a partition's rules deleted), held ones too: what stays is reported.
    const { healLeftoverFaults } = await import('../faults/leftovers.js');
    const faults = await healLeftoverFaults({ name: ref.name, provider, ledger, topology }, { all: true });
    notes.push(...faults.lines);
    const undo = async (e: LedgerEntry): Promise<void> => {
      const what = describe(e);
      options.progress({ host: (e.data as { host?: string }).host, step: `remove ${e.kind}`, status: 'start', detail: e.key });
      if (e.kind === 'package') notes.push(`${what}: installed by lab up --install; left installed`);
      else await provider.undo(e);
      removed++;
      options.progress({ host: (e.data as { host?: string }).host, step: `remove ${e.kind}`, status: 'done', detail: e.key });
    };
    try {
      // Processes first, all at once (each stops on its own; RabbitMQ takes the longest).
      // (a supervisor stops its service with itself: its children are in its process group)
      const processes = entries.filter((e) => PROCESS_KINDS.includes(e.kind));
      await Promise.all(
        processes.map(async (e) => {
          try {
            await undo({ ...e, data: { ...e.data, graceMs: DOWN_GRACE_MS } });
            await ledger.remove(e.key);
          } catch (err) {
            failures.push({ key: e.key, kind: e.kind, error: err instanceof Error ? err.message : String(err) });
          }
        }),
      );
      const rest = await ledger.replayReverse(undo);
      for (const f of rest) if (!failures.some((x) => x.key === f.entry.key)) failures.push({ key: f.entry.key, kind: f.entry.kind, error: f.error instanceof Error ? f.error.message : String(f.error) });
    } finally {
      await provider.close();
    }
    if (failures.length === 0) {
      await removeStateDir(ref.dir);
      await clearActiveLab(ref.name);
    }
    return { lab: ref.name, removed, failures, durationMs: performance.now() - t0, nothing: false, notes };
  } finally {
    await release();
  }
}
