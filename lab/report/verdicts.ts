/**
 * Verdicts for machines: one test case per scenario × implementation × mode × parameter point of the runs `lab run`
 * made (and one per scenario that failed before it recorded anything), rendered as JUnit XML (junit.ts) or TAP
 * (tap.ts). A case passes when its point was verified and the run has no error; its time is what its samples took.
 */
import { formatMs, formatParams } from './format.js';
import { modesOf } from './derive.js';
import { splitModeKey } from './run-record.js';
import type { RunRecord } from './run-record.js';

/** One scenario run: its record, or why there is none. */
export interface VerdictRun {
  scenario: string;
  record?: RunRecord;
  /** The run failed before it recorded anything (or was stopped). */
  error?: string;
}

export interface VerdictCase {
  /** The suite: the scenario. */
  scenario: string;
  /** "<impl> <mode> <params>" — unique within its scenario. */
  name: string;
  impl?: string;
  mode?: string;
  params?: Record<string, unknown>;
  /** Seconds: the sum of the case's samples (warm-ups included: what the run spent on it). */
  seconds: number;
  ok: boolean;
  /** One line: what a pass verified, or why it failed. */
  message: string;
  /** More text for a failure (the verify detail, the run's error), may hold several lines. */
  detail?: string;
}

/** Every case of the runs, in run order. */
export function verdictCases(runs: readonly VerdictRun[]): VerdictCase[] {
  const cases: VerdictCase[] = [];
  for (const run of runs) {
    const r = run.record;
    if (!r) {
      cases.push({ scenario: run.scenario, name: run.scenario, seconds: 0, ok: false, message: `did not run: ${run.error ?? 'no record'}`, detail: run.error });
      continue;
    }
    const modes = modesOf(r);
    for (const p of r.points) {
      for (const mode of modes) {
        const samples = p.samples.filter((s) => s.mode === mode);
        const measured = samples.filter((s) => !s.warmup);
        const k = splitModeKey(mode);
        const params = formatParams(p.params);
        const name = `${k.impl} ${k.mode}${params ? ` ${params}` : ''}`;
        const seconds = samples.reduce((t, s) => t + s.totalMs, 0) / 1000;
        const ok = p.verify.ok && !r.error && measured.length > 0;
        const median = r.points.length > 0 && p.stats[mode] ? ` · median ${formatMs(p.stats[mode]!.total.median)} over ${p.stats[mode]!.total.n}` : '';
        const why = r.error ? `run stopped: ${r.error}` : measured.length === 0 ? 'no measured sample' : `NOT verified: ${p.verify.detail}`;
        cases.push({ scenario: r.scenario, name, impl: k.impl, mode: k.mode, params: p.params, seconds, ok, message: ok ? `verified: ${p.verify.detail}${median}` : why, ...(ok ? {} : { detail: [why, r.error && !why.includes(r.error) ? r.error : '', `run ${r.id}`].filter(Boolean).join('\n') }) });
      }
    }
    // A record with no point at all (stopped before the first) still says so.
    if (r.points.length === 0) cases.push({ scenario: r.scenario, name: r.scenario, seconds: 0, ok: false, message: `no point ran${r.error ? `: ${r.error}` : ''}`, detail: r.error });
  }
  return cases;
}
