/**
 * Read-only views over run records that every renderer needs: measured samples of a mode, the statistics of a
 * mode (the record's own, or computed from its samples when a writer left them out), the swept parameter.
 */
import { LAB_IMPLEMENTATION, splitModeKey } from './run-record.js';
import type { ModeStats, RunPoint, RunRecord, Summary } from './run-record.js';
import { ratio, summarize, type Ratio } from './statistics.js';

/** The measured (non-warm-up) samples of one mode at one point, in run order. */
export function measuredSamples(point: RunPoint, mode: string): RunPoint['samples'] {
  return point.samples.filter((s) => s.mode === mode && !s.warmup);
}

/** Total times (ms) of the measured samples of one mode. */
export function measuredTotals(point: RunPoint, mode: string): number[] {
  return measuredSamples(point, mode).map((s) => s.totalMs);
}

/** Per-item latencies of one mode, pooled over its measured repeats (empty when the mode has none). */
export function measuredLatencies(point: RunPoint, mode: string): number[] {
  return measuredSamples(point, mode).flatMap((s) => s.latenciesMs ?? []);
}

/** Phase names of one mode at one point, in first-seen order (stats first, then samples). */
export function phaseNames(point: RunPoint, mode: string): string[] {
  const names = new Set<string>(Object.keys(point.stats[mode]?.phases ?? {}));
  for (const s of measuredSamples(point, mode)) for (const k of Object.keys(s.phases)) names.add(k);
  return [...names];
}

/** Statistics of one mode at one point: the record's, else computed from its measured samples, else undefined. */
export function modeStats(point: RunPoint, mode: string): ModeStats | undefined {
  const own = point.stats[mode];
  if (own) return own;
  const samples = measuredSamples(point, mode);
  if (samples.length === 0) return undefined;
  const phases: Record<string, Summary> = {};
  for (const name of phaseNames(point, mode)) {
    const xs = samples.map((s) => s.phases[name]).filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
    if (xs.length > 0) phases[name] = summarize(xs);
  }
  return { total: summarize(samples.map((s) => s.totalMs)), phases };
}

/** Every mode of a record: its declared order, then any mode that only appears in stats or samples. */
export function modesOf(record: RunRecord): string[] {
  const modes = new Set<string>(record.modes);
  for (const p of record.points) {
    for (const m of Object.keys(p.stats)) modes.add(m);
    for (const s of p.samples) modes.add(s.mode);
  }
  return [...modes];
}

/** Speed-up of the candidate over the baseline at one point: baseline median / candidate median, MAD band. */
export function speedup(record: RunRecord, point: RunPoint): Ratio | undefined {
  // A one-mode scenario (a lesson) has nothing to compare.
  if (record.baseline === record.candidate) return undefined;
  const base = modeStats(point, record.baseline);
  const cand = modeStats(point, record.candidate);
  if (!base || !cand) return undefined;
  return ratio(base.total, cand.total);
}

/**
 * The numeric parameter a run sweeps, if any: the first key whose value differs between points and is a finite
 * number at every point. Undefined for a single-point run.
 */
export function sweptParam(record: RunRecord): string | undefined {
  if (record.points.length < 2) return undefined;
  const keys = new Set<string>();
  for (const p of record.points) for (const k of Object.keys(p.params)) keys.add(k);
  for (const k of keys) {
    const vals = record.points.map((p) => p.params[k]);
    if (!vals.every((v) => typeof v === 'number' && Number.isFinite(v))) continue;
    if (new Set(vals).size > 1) return k;
  }
  return undefined;
}

/** A stable text key for a parameter object (keys sorted), to match points of two runs. */
export function paramsKey(params: Record<string, unknown>): string {
  const canon = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(canon);
    if (v && typeof v === 'object') {
      return Object.fromEntries(
        Object.keys(v as Record<string, unknown>)
          .sort()
          .map((k) => [k, canon((v as Record<string, unknown>)[k])]),
      );
    }
    return v;
  };
  return JSON.stringify(canon(params));
}

/** Parameter keys whose values differ between the points of a run (in first-seen key order). */
export function varyingParams(record: RunRecord): string[] {
  const keys: string[] = [];
  for (const p of record.points) for (const k of Object.keys(p.params)) if (!keys.includes(k)) keys.push(k);
  return keys.filter((k) => new Set(record.points.map((p) => JSON.stringify(p.params[k]) ?? 'undefined')).size > 1);
}

// ---- implementations (lab run --impl) ---------------------------------------------------------------------------

/** Does the record compare implementations (lab beside peers, or a peer alone)? Older records: no. */
export function hasImplementations(record: RunRecord): boolean {
  const impls = record.implementations;
  return !!impls && impls.length > 0 && (impls.length > 1 || impls[0]!.name !== LAB_IMPLEMENTATION);
}

/** The implementations of a record in run order: its list, else those its mode keys name (lab for older records). */
export function implementationNames(record: RunRecord): string[] {
  const names = new Set<string>((record.implementations ?? []).map((i) => i.name));
  for (const m of modesOf(record)) names.add(splitModeKey(m).impl);
  return [...names];
}

/** The bundled runtime's mode key that a peer's mode key is compared with, when lab ran it; undefined for lab's own. */
export function labCounterpart(record: RunRecord, key: string): string | undefined {
  const { impl, mode } = splitModeKey(key);
  if (impl === LAB_IMPLEMENTATION) return undefined;
  const declared = record.implementations?.find((i) => i.name === impl)?.compareTo?.[key];
  const lab = declared ?? mode;
  return splitModeKey(lab).impl === LAB_IMPLEMENTATION && modesOf(record).includes(lab) ? lab : undefined;
}

/**
 * A peer's time relative to the bundled runtime's same mode at one point: median(peer) / median(lab) — above 1 the
 * peer took longer — with a bootstrap band when both have at least 5 measured samples, else median ± MAD.
 */
export function vsLab(record: RunRecord, point: RunPoint, key: string): { against: string; ratio: Ratio } | undefined {
  const against = labCounterpart(record, key);
  if (!against) return undefined;
  const peer = modeStats(point, key);
  const lab = modeStats(point, against);
  if (!peer || !lab) return undefined;
  const xa = measuredTotals(point, key);
  const xb = measuredTotals(point, against);
  const boot = xa.length >= 5 && xb.length >= 5;
  return { against, ratio: ratio(peer.total, lab.total, boot ? { samplesA: xa, samplesB: xb } : {}) };
}

/**
 * The implementation × mode matrix of a record: the mode names as rows (lab's in its order, then modes only peers
 * have, like Pyro's sync and async) and the implementations as columns; a cell is the mode key, or undefined where
 * that implementation has no such mode.
 */
export function implementationMatrix(record: RunRecord): { impls: string[]; modes: string[]; key(impl: string, mode: string): string | undefined } {
  const keys = modesOf(record);
  const impls = implementationNames(record);
  const modes: string[] = [];
  for (const k of keys) {
    const m = splitModeKey(k).mode;
    if (!modes.includes(m)) modes.push(m);
  }
  return {
    impls,
    modes,
    key: (impl, mode) => keys.find((k) => {
      const s = splitModeKey(k);
      return s.impl === impl && s.mode === mode;
    }),
  };
}
