/**
 * Counts per fault window: a run that counts per second (the ledger scenario's `perSecond`) is cut along its fault
 * timeline, so the record says what each fault cost — sent, done, lost, duplicated, late while it lasted.
 */
import type { FaultEvent } from './fault.js';

/** Per epoch second: sent / lost / late by send time; done / duplicated by execution time. */
export interface SecondCounts {
  second: number;
  sent: number;
  done: number;
  duplicated: number;
  lost: number;
  late: number;
}

export interface WindowCounts {
  fault: string;
  from: string;
  to: string;
  sent: number;
  done: number;
  lost: number;
  duplicated: number;
  late: number;
}

/** A fault's window: from its start to its heal, or for an instant (kill, restart) until the service was back. */
export function faultWindow(e: FaultEvent, t0: number): { startMs: number; endMs: number } {
  const start = t0 + e.startMs;
  const end = e.recoveryMs != null ? start + e.recoveryMs : t0 + (e.endMs ?? e.startMs);
  return { startMs: start, endMs: Math.max(start, end) };
}

/** Per fault: the whole seconds its window overlaps (the per-second counts' grain), summed. */
export function perWindow(perSecond: readonly SecondCounts[], events: readonly FaultEvent[], t0: number): WindowCounts[] {
  return events
    .filter((e) => e.error === undefined)
    .map((e) => {
      const w = faultWindow(e, t0);
      const from = Math.floor(w.startMs / 1000);
      const to = Math.floor(w.endMs / 1000);
      const inside = perSecond.filter((s) => s.second >= from && s.second <= to);
      const sum = (k: 'sent' | 'done' | 'lost' | 'duplicated' | 'late'): number => inside.reduce((n, s) => n + s[k], 0);
      return { fault: e.text, from: new Date(from * 1000).toISOString(), to: new Date(to * 1000 + 999).toISOString(), sent: sum('sent'), done: sum('done'), lost: sum('lost'), duplicated: sum('duplicated'), late: sum('late') };
    });
}

/** What a run record keeps of its faults (`lab run --faults`). */
export interface RunFaults {
  schedule: string;
  /** Epoch ms the schedule's clock started (a fault's startMs counts from it). */
  t0: number;
  startedAt: string;
  timeline: FaultEvent[];
  /** Per fault window, when the scenario counts per second (the ledger scenario). */
  windows?: WindowCounts[];
}
