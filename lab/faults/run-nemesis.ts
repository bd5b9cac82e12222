/**
 * `lab run … --faults SCHEDULE`: the nemesis beside a run on a provisioned lab. Opened before the run (the
 * schedule's clock starts with it), finished when the run's record is in hand — every fault healed, the recoveries
 * waited for — and the record gets the fault timeline and, when the scenario counts per second, the counts per
 * fault window. A fault that could not be applied or healed makes the run unverified: it did not test what was asked.
 */
import { readFile, stat } from 'node:fs/promises';
import { openLab } from '../orchestrator/lab-ref.js';
import { unsupervisedRestarter } from '../orchestrator/services.js';
import type { LabRef } from '../orchestrator/lab-ref.js';
import type { RunRecord } from '../report/run-record.js';
import { Nemesis } from './nemesis.js';
import { healOpenLab } from './leftovers.js';
import { parseSchedule } from './schedule.js';
import type { Fault } from './fault.js';
import { perWindow } from './windows.js';
import type { RunFaults, SecondCounts } from './windows.js';

/** A schedule from a file (when the argument names one) or inline. */
export async function loadSchedule(arg: string): Promise<{ text: string; faults: Fault[] }> {
  const isFile = await stat(arg).then((s) => s.isFile(), () => false);
  const text = isFile ? await readFile(arg, 'utf8') : arg;
  return { text, faults: parseSchedule(text, isFile ? `${arg}:` : '--faults ') };
}

export interface RunNemesis {
  /** Heal everything, wait for recoveries, and return what the record keeps. Idempotent. */
  finish(record?: RunRecord): Promise<RunFaults>;
}

export async function startRunNemesis(ref: LabRef, schedule: { text: string; faults: Fault[] }, onLine: (line: string) => void): Promise<RunNemesis> {
  const lab = await openLab(ref);
  for (const line of (await healOpenLab(lab)).lines) onLine(line);
  const nemesis = new Nemesis({ lab: ref.name, provider: lab.provider, ledger: lab.ledger, topology: lab.topology, restartUnsupervised: unsupervisedRestarter(lab) }, schedule.faults);
  nemesis.on('line', onLine);
  const t0 = nemesis.start();
  let done: Promise<RunFaults> | null = null;
  const finish = async (record?: RunRecord): Promise<RunFaults> => {
    try {
      const timeline = await nemesis.stop();
      const out: RunFaults = { schedule: schedule.text.trim(), t0, startedAt: new Date(t0).toISOString(), timeline };
      const perSecond = record?.points.map((p) => (p.output as { perSecond?: SecondCounts[] } | undefined)?.perSecond).find((x) => Array.isArray(x));
      if (perSecond) out.windows = perWindow(perSecond, timeline, t0);
      return out;
    } finally {
      await lab.provider.close();
    }
  };
  return { finish: (record) => (done ??= finish(record)) };
}

/** Put a run's faults into its record; a fault not applied, or not healed, makes the run unverified. */
export function withFaults(record: RunRecord, faults: RunFaults): RunRecord {
  const failed = faults.timeline.filter((e) => e.error !== undefined);
  const out: RunRecord = { ...record, faults };
  if (failed.length > 0) {
    out.verified = false;
    const why = failed.map((e) => `fault ${e.text}: ${e.error}`).join('; ');
    out.error = out.error ? `${out.error}; ${why}` : why;
  }
  return out;
}
