/**
 * Compare two runs, A (the reference) and B: for every point (matched by equal parameters) and every mode, the
 * medians of A and B, the ratio B/A with its noise band, and a verdict.
 *
 * Noise band: when both sides have at least BOOTSTRAP_MIN_N measured samples, a 95 % percentile-bootstrap
 * confidence interval of median(B)/median(A) (2000 resamples, seeded — deterministic); otherwise the
 * conservative median ± MAD interval (see statistics.ratio). Verdict: "faster" when the whole band is below 1
 * (B takes less time), "slower" when it is wholly above 1, "within noise" when it contains 1 — and "not enough
 * repeats to judge" when either side has fewer than MIN_REPEATS_TO_JUDGE measured samples: one or two samples give
 * a band of (nearly) zero width, which would call any difference at all faster or slower.
 * A point or mode present in only one run gets "only in A" / "only in B".
 */
import type { RunPoint, RunRecord, Summary } from './run-record.js';
import { measuredTotals, modeStats, modesOf, paramsKey } from './derive.js';
import { ratio, type Ratio } from './statistics.js';
import { formatMs, formatParams, formatRatio, formatWhen, runName } from './format.js';

const COMPARE_SCHEMA = 'lab.compare/1';
/** Fewest measured samples on each side for the bootstrap band; below it the MAD band is used. */
export const BOOTSTRAP_MIN_N = 5;
/** Fewest measured samples on each side for any verdict of faster, slower or within noise. */
export const MIN_REPEATS_TO_JUDGE = 3;
export const NOT_ENOUGH_REPEATS = 'not enough repeats to judge';

export type CompareVerdict = 'faster' | 'slower' | 'within noise' | typeof NOT_ENOUGH_REPEATS | 'only in A' | 'only in B';

export interface RunRef {
  id: string;
  label?: string;
  scenario: string;
  startedAt: string;
  lab: string;
  verified: boolean;
}

export interface CompareRow {
  scenario: string;
  params: Record<string, unknown>;
  mode: string;
  a?: Summary;
  b?: Summary;
  /** median(B) / median(A) with its band; absent when one side is missing. */
  ratio?: Ratio;
  verdict: CompareVerdict;
}

export interface Comparison {
  schema: typeof COMPARE_SCHEMA;
  a: RunRef;
  b: RunRef;
  rows: CompareRow[];
  /** Things a reader must know (different scenarios, no common points). */
  notes: string[];
}

function ref(r: RunRecord): RunRef {
  return {
    id: r.id,
    ...(r.label !== undefined ? { label: r.label } : {}),
    scenario: r.scenario,
    startedAt: r.startedAt,
    lab: `${r.lab.kind}/${r.lab.name}`,
    verified: r.verified,
  };
}

export function verdictOf(band: Ratio): CompareVerdict {
  if (band.high < 1) return 'faster';
  if (band.low > 1) return 'slower';
  return 'within noise';
}

function compareMode(pa: RunPoint | undefined, pb: RunPoint | undefined, mode: string): Omit<CompareRow, 'scenario' | 'params' | 'mode'> {
  const sa = pa ? modeStats(pa, mode)?.total : undefined;
  const sb = pb ? modeStats(pb, mode)?.total : undefined;
  if (!sa && !sb) return { verdict: pa ? 'only in A' : 'only in B' };
  if (!sb) return { a: sa, verdict: 'only in A' };
  if (!sa) return { b: sb, verdict: 'only in B' };
  const xa = pa ? measuredTotals(pa, mode) : [];
  const xb = pb ? measuredTotals(pb, mode) : [];
  const boot = xa.length >= BOOTSTRAP_MIN_N && xb.length >= BOOTSTRAP_MIN_N;
  const band = ratio(sb, sa, boot ? { samplesA: xb, samplesB: xa } : {});
  const judged = Math.min(sa.n, sb.n) >= MIN_REPEATS_TO_JUDGE;
  return { a: sa, b: sb, ratio: band, verdict: judged ? verdictOf(band) : NOT_ENOUGH_REPEATS };
}

/** Compare run B against run A (ratios are B/A: below 1 means B is faster). */
export function compareRuns(a: RunRecord, b: RunRecord): Comparison {
  const notes: string[] = [];
  if (a.scenario !== b.scenario) notes.push(`the runs are of different scenarios (A: ${a.scenario}, B: ${b.scenario})`);
  if (a.id === b.id) notes.push('A and B are the same run');
  const modes = [...new Set([...modesOf(a), ...modesOf(b)])];
  const bPoints = new Map(b.points.map((p) => [paramsKey(p.params), p] as const));
  const aKeys = new Set(a.points.map((p) => paramsKey(p.params)));
  const pairs: [RunPoint | undefined, RunPoint | undefined][] = [
    ...a.points.map((p) => [p, bPoints.get(paramsKey(p.params))] as [RunPoint, RunPoint | undefined]),
    ...b.points.filter((p) => !aKeys.has(paramsKey(p.params))).map((p) => [undefined, p] as [undefined, RunPoint]),
  ];
  const rows: CompareRow[] = [];
  for (const [pa, pb] of pairs) {
    const params = (pa ?? pb)?.params ?? {};
    for (const mode of modes) {
      const hasA = !!pa && !!modeStats(pa, mode);
      const hasB = !!pb && !!modeStats(pb, mode);
      if (!hasA && !hasB) continue;
      rows.push({ scenario: (pa ? a : b).scenario, params, mode, ...compareMode(pa, pb, mode) });
    }
  }
  if (!rows.some((r) => r.ratio)) notes.push('the runs have no point and mode in common');
  return { schema: COMPARE_SCHEMA, a: ref(a), b: ref(b), rows, notes };
}

/** The columns every text renderer shows for a comparison row (terminal table, Markdown). */
export const COMPARE_HEAD = ['scenario', 'params', 'mode', 'A median', 'B median', 'B/A', 'band', 'verdict'];

/** The noise band of a row's ratio as text: "0.95×–1.10× (bootstrap)", or "—" when there is none. */
export function bandText(row: CompareRow): string {
  return row.ratio ? `${formatRatio(row.ratio.low)}–${formatRatio(row.ratio.high)} (${row.ratio.method})` : '—';
}

/** A comparison row as the text cells of COMPARE_HEAD. */
export function compareCells(row: CompareRow): string[] {
  return [
    row.scenario,
    formatParams(row.params),
    row.mode,
    row.a ? formatMs(row.a.median) : '—',
    row.b ? formatMs(row.b.median) : '—',
    row.ratio ? formatRatio(row.ratio.ratio) : '—',
    bandText(row),
    row.verdict,
  ];
}

/** A compared run for people: "<run> · <scenario> · <lab> · <when>". */
export function runLabel(r: RunRef): string {
  return `${runName(r)} · ${r.scenario} · ${r.lab} · ${formatWhen(r.startedAt)}`;
}
