/**
 * CSV (RFC 4180: CRLF line ends, a field quoted when it holds a comma, a double quote, CR or LF, quotes doubled):
 * one row per run × point × mode with the statistics of the mode's total time, the median of each phase, and the
 * speed-up (baseline/candidate median) on the candidate's row. Times are in milliseconds.
 * Parameter columns are `param_<name>` and phase columns `phase_<name>_median_ms`, the union over the selection.
 * When a selected run compared implementations (`lab run --impl`), four more columns close each row:
 * `implementation`, `impl_mode` (its own mode name), `vs_lab_mode` and `vs_lab_ratio` (median / lab's median).
 */
import type { Comparison } from './compare.js';
import { hasImplementations, modeStats, modesOf, phaseNames, speedup, vsLab } from './derive.js';
import { splitModeKey } from './run-record.js';
import { formatNumber } from './format.js';
import type { RunRecord, Summary } from './run-record.js';

/** Quote one field per RFC 4180. */
export function csvField(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

function csvLine(fields: string[]): string {
  return fields.map(csvField).join(',');
}

function csvDocument(header: string[], rows: string[][]): string {
  return [header, ...rows].map(csvLine).join('\r\n') + '\r\n';
}

/** A parameter value in one cell: strings as-is, numbers/booleans printed, anything else as JSON. */
function paramCell(v: unknown): string {
  if (v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return formatNumber(v);
  if (typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

function union<T>(lists: Iterable<T[]>): T[] {
  const s = new Set<T>();
  for (const l of lists) for (const x of l) s.add(x);
  return [...s];
}

const STAT_COLUMNS = ['n', 'min_ms', 'max_ms', 'mean_ms', 'median_ms', 'stddev_ms', 'mad_ms', 'p95_ms', 'p99_ms', 'outliers'];

function statCells(s: Summary | undefined): string[] {
  if (!s) return STAT_COLUMNS.map(() => '');
  return [s.n, s.min, s.max, s.mean, s.median, s.stddev, s.mad, s.p95, s.p99].map(formatNumber).concat(String(s.outliers.length));
}

export function renderCsv(records: readonly RunRecord[]): string {
  const paramKeys = union(records.flatMap((r) => r.points.map((p) => Object.keys(p.params))));
  const phases = union(records.flatMap((r) => r.points.flatMap((p) => modesOf(r).map((m) => phaseNames(p, m)))));
  const header = [
    'run_id',
    'label',
    'scenario',
    'lab_kind',
    'lab_name',
    'started_at',
    'point',
    ...paramKeys.map((k) => `param_${k}`),
    'mode',
    'role',
    ...STAT_COLUMNS,
    ...phases.map((ph) => `phase_${ph}_median_ms`),
    'speedup',
    'verified',
    'run_error',
  ];
  const impls = records.some(hasImplementations);
  if (impls) header.push('implementation', 'impl_mode', 'vs_lab_mode', 'vs_lab_ratio');
  const rows: string[][] = [];
  for (const r of records) {
    r.points.forEach((p, i) => {
      const sp = speedup(r, p);
      for (const mode of modesOf(r)) {
        const st = modeStats(p, mode);
        if (!st) continue;
        const role = mode === r.baseline ? 'baseline' : mode === r.candidate ? 'candidate' : 'other';
        rows.push([
          r.id,
          r.label ?? '',
          r.scenario,
          r.lab.kind,
          r.lab.name,
          r.startedAt,
          String(i),
          ...paramKeys.map((k) => paramCell(p.params[k])),
          mode,
          role,
          ...statCells(st.total),
          ...phases.map((ph) => formatNumber(st.phases[ph]?.median)),
          role === 'candidate' && sp ? formatNumber(sp.ratio) : '',
          String(p.verify.ok),
          r.error ?? '',
          ...(impls ? implCells(r, p, mode) : []),
        ]);
      }
    });
  }
  return csvDocument(header, rows);
}

function implCells(r: RunRecord, p: RunRecord['points'][number], mode: string): string[] {
  const k = splitModeKey(mode);
  const v = vsLab(r, p, mode);
  return [k.impl, k.mode, v?.against ?? '', v ? formatNumber(v.ratio.ratio) : ''];
}

export function renderCompareCsv(c: Comparison): string {
  const paramKeys = union(c.rows.map((row) => Object.keys(row.params)));
  const header = [
    'a_id',
    'b_id',
    'scenario',
    ...paramKeys.map((k) => `param_${k}`),
    'mode',
    'a_n',
    'a_median_ms',
    'a_mad_ms',
    'b_n',
    'b_median_ms',
    'b_mad_ms',
    'ratio_b_over_a',
    'band_low',
    'band_high',
    'band_method',
    'verdict',
  ];
  const rows = c.rows.map((row) => [
    c.a.id,
    c.b.id,
    row.scenario,
    ...paramKeys.map((k) => paramCell(row.params[k])),
    row.mode,
    formatNumber(row.a?.n),
    formatNumber(row.a?.median),
    formatNumber(row.a?.mad),
    formatNumber(row.b?.n),
    formatNumber(row.b?.median),
    formatNumber(row.b?.mad),
    formatNumber(row.ratio?.ratio),
    formatNumber(row.ratio?.low),
    formatNumber(row.ratio?.high),
    row.ratio?.method ?? '',
    row.verdict,
  ]);
  return csvDocument(header, rows);
}
