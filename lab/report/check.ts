/**
 * `lab report --check`: a regression gate over the latest run of each scenario.
 *
 * - A ratio bound (`--max mergesort:distributed/local=2.0`): at every point of the scenario's latest run,
 *   median(distributed) / median(local) must be at most 2.0. One run compares two of its own modes, so this needs
 *   no repeats; the median ratio is what is bounded (its band is shown).
 * - A baseline (`--baseline FILE-or-run-id --max-regression 10%`): each baseline run is compared with the latest
 *   run of its scenario (compare.ts: B/A with the noise band). A mode fails when the whole band lies above
 *   1 + P (slower by more than P beyond the noise); with fewer than MIN_REPEATS_TO_JUDGE samples on either side it
 *   is "not enough repeats to judge" — reported, never failed, because a zero-width band judges nothing.
 *
 * Mistakes in what is asked (an unknown scenario or mode, a bound that is not a number, a baseline that is not a
 * run record) are UsageErrors (exit 2), thrown before anything is judged; a failed check is a value (exit 1).
 */
import { readFile, stat } from 'node:fs/promises';
import { UsageError } from '../errors.js';
import { compareRuns, NOT_ENOUGH_REPEATS } from './compare.js';
import { modeStats, modesOf } from './derive.js';
import { formatParams, formatRatio, runName } from './format.js';
import { findRecord, latestPerScenario, loadRecords, validateRecord } from './records.js';
import type { RunRecord } from './run-record.js';

/** `--max scenario:modeA/modeB=R` as given; the modes are split once the scenario's modes are known. */
export interface MaxSpec {
  text: string;
  scenario: string;
  /** Everything between ':' and '=' (mode keys may hold '/' themselves: celery/distributed). */
  modes: string;
  bound: number;
}

export interface CheckLine {
  ok: boolean;
  /** The check could not judge (too few repeats): reported, not failed. */
  unjudged?: boolean;
  text: string;
}

export interface CheckResult {
  lines: CheckLine[];
  failed: number;
  /** What the checks read: the runs judged (and the baseline runs). */
  runs: string[];
}

export interface CheckOptions {
  dir: string;
  max: string[];
  baseline?: string;
  /** --max-regression as given ("10%", "0.1"). */
  maxRegression?: string;
  /** Scenario name → its mode keys, for the scenarios lab knows (a scenario not run yet is still "known"). */
  known: ReadonlyMap<string, readonly string[]>;
}

/** Parse `scenario:modeA/modeB=R`; UsageError naming the flag and the bad part. */
export function parseMaxSpec(text: string): MaxSpec {
  const m = /^([^:=\s]+):([^=\s]+\/[^=\s]+)=([^=\s]+)$/.exec(text);
  if (!m) throw new UsageError(`--max: expected scenario:modeA/modeB=RATIO (e.g. mergesort:distributed/local=2.0), got ${JSON.stringify(text)}`);
  const bound = Number(m[3]);
  if (!Number.isFinite(bound) || bound <= 0) throw new UsageError(`--max ${text}: expected a ratio > 0 after '=', got ${JSON.stringify(m[3])}`);
  return { text, scenario: m[1]!, modes: m[2]!, bound };
}

/** "10%" → 0.10, "0.1" → 0.10; UsageError otherwise. */
export function parseRegression(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(%?)\s*$/.exec(text);
  const v = m ? Number(m[1]) / (m[2] ? 100 : 1) : NaN;
  if (!m || !Number.isFinite(v) || v < 0) throw new UsageError(`--max-regression: expected a percentage like 10% (or a fraction like 0.1), got ${JSON.stringify(text)}`);
  return v;
}

/** The two mode keys of `a/b` among the scenario's modes: every '/' is tried, as a mode key may hold one. */
export function splitModes(spec: MaxSpec, modes: readonly string[]): [string, string] {
  const parts = spec.modes.split('/');
  for (let i = 1; i < parts.length; i++) {
    const a = parts.slice(0, i).join('/');
    const b = parts.slice(i).join('/');
    if (modes.includes(a) && modes.includes(b)) return [a, b];
  }
  const bad = parts.find((p) => !modes.some((m) => m.split('/').includes(p))) ?? spec.modes;
  throw new UsageError(`--max ${spec.text}: unknown mode ${JSON.stringify(bad)} of ${spec.scenario} (modes: ${modes.join(', ')})`);
}

/** Baseline runs: a run record file (one record, or a JSON array of them, as `lab run … --json` prints) or a run in `records`. */
export async function loadBaseline(ref: string, records: readonly RunRecord[], dir: string): Promise<RunRecord[]> {
  const isFile = await stat(ref).then((s) => s.isFile(), () => false);
  if (!isFile) {
    if (/[\\/]|\.json$/i.test(ref)) throw new UsageError(`--baseline ${ref}: no such file (expected a run record file or a run id, id prefix or label)`);
    return [findRecord(records, ref, dir)];
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(ref, 'utf8'));
  } catch (err) {
    throw new UsageError(`--baseline ${ref}: not a run record (not valid JSON: ${(err as Error).message.split('\n')[0]})`);
  }
  const list = Array.isArray(parsed) ? parsed : [parsed];
  if (list.length === 0) throw new UsageError(`--baseline ${ref}: not a run record (an empty list)`);
  for (const [i, r] of list.entries()) {
    const why = validateRecord(r);
    if (why) throw new UsageError(`--baseline ${ref}: ${Array.isArray(parsed) ? `item ${i}: ` : ''}${why}`);
  }
  return list as RunRecord[];
}

function modesKnown(scenario: string, o: CheckOptions, latest: ReadonlyMap<string, RunRecord>): readonly string[] | undefined {
  const run = latest.get(scenario);
  return run ? modesOf(run) : o.known.get(scenario);
}

export async function runChecks(o: CheckOptions): Promise<CheckResult> {
  if (o.max.length === 0 && o.baseline === undefined) throw new UsageError('--check needs something to check: --max scenario:modeA/modeB=R and/or --baseline FILE-or-run-id');
  if (o.maxRegression !== undefined && o.baseline === undefined) throw new UsageError('--max-regression needs --baseline');
  const maxRegression = o.baseline !== undefined ? parseRegression(o.maxRegression ?? '10%') : 0;
  const specs = o.max.map(parseMaxSpec);
  const { records } = await loadRecords(o.dir);
  const latest = new Map(latestPerScenario(records).map((r) => [r.scenario, r] as const));

  // Every mistake in what is asked is found before anything is judged.
  const bounds = specs.map((spec) => {
    const modes = modesKnown(spec.scenario, o, latest);
    if (!modes) throw new UsageError(`--max ${spec.text}: unknown scenario ${JSON.stringify(spec.scenario)} (known: ${[...new Set([...o.known.keys(), ...latest.keys()])].sort().join(', ')})`);
    return { spec, pair: splitModes(spec, modes) };
  });
  const baselines = o.baseline !== undefined ? await loadBaseline(o.baseline, records, o.dir) : [];

  const lines: CheckLine[] = [];
  const runs = new Set<string>();
  for (const { spec, pair } of bounds) {
    const run = latest.get(spec.scenario);
    if (!run) {
      lines.push({ ok: false, text: `✗ ${spec.text}: no run of ${spec.scenario} in ${o.dir}` });
      continue;
    }
    runs.add(run.id);
    const [a, b] = pair;
    for (const p of run.points) {
      const sa = modeStats(p, a)?.total;
      const sb = modeStats(p, b)?.total;
      const where = `${spec.scenario}${run.points.length > 1 || Object.keys(p.params).length > 0 ? ` ${formatParams(p.params)}` : ''}`;
      if (!sa || !sb || !(sb.median > 0)) {
        lines.push({ ok: false, text: `✗ ${where}: ${a}/${b} cannot be computed (run ${runName(run)} has no time of ${!sa ? a : b})` });
        continue;
      }
      const r = sa.median / sb.median;
      const ok = r <= spec.bound;
      lines.push({ ok, text: `${ok ? '✓' : '✗'} ${where}: ${a}/${b} ${formatRatio(r)} ${ok ? '≤' : '>'} ${formatRatio(spec.bound)} (run ${runName(run)}, ${sa.n}/${sb.n} repeats)` });
    }
  }
  for (const base of baselines) {
    const cur = latest.get(base.scenario);
    if (!cur || cur.id === base.id) {
      lines.push({ ok: false, text: `✗ baseline ${runName(base)} (${base.scenario}): no newer run of ${base.scenario} in ${o.dir} to compare` });
      continue;
    }
    runs.add(cur.id);
    runs.add(base.id);
    const limit = 1 + maxRegression;
    for (const row of compareRuns(base, cur).rows) {
      if (!row.ratio) continue;
      const where = `${row.scenario}${Object.keys(row.params).length > 0 ? ` ${formatParams(row.params)}` : ''} ${row.mode}`;
      const band = `band ${formatRatio(row.ratio.low)}–${formatRatio(row.ratio.high)}`;
      const figures = `${formatRatio(row.ratio.ratio)} of baseline ${runName(base)} (${band})`;
      if (row.verdict === NOT_ENOUGH_REPEATS) {
        lines.push({ ok: true, unjudged: true, text: `? ${where}: ${figures} — ${NOT_ENOUGH_REPEATS} (${row.a!.n} and ${row.b!.n} repeats; ≥ 3 each)` });
        continue;
      }
      const ok = !(row.ratio.low > limit);
      lines.push({ ok, text: `${ok ? '✓' : '✗'} ${where}: ${figures} ${ok ? 'within' : 'slower than'} +${Math.round(maxRegression * 1000) / 10}%` });
    }
  }
  return { lines, failed: lines.filter((l) => !l.ok).length, runs: [...runs] };
}
