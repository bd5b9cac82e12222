/**
 * The HTML report's charts, as inline SVG strings. Each `<svg>` carries a stable `data-chart` name:
 *   time-vs-param  median total time vs the swept numeric parameter, one line per mode, ± MAD whiskers
 *   phases         stacked horizontal bars of phase medians per point × mode, with the total median marked
 *   latency        box + strip plot of the measured total times per point × mode (outliers highlighted)
 *   latency-items  histogram of per-item latencies (`latenciesMs`) per point × mode, when a run has them
 *   compare        forest plot of B/A median ratios with their noise bands (compare reports)
 * Every data mark has a `<title>` tooltip. A chart function returns '' when it has nothing to draw.
 */
import type { Comparison } from './compare.js';
import { measuredLatencies, measuredTotals, modeStats, modesOf, phaseNames, varyingParams } from './derive.js';
import { formatMs, formatParams, formatRatio } from './format.js';
import type { RunPoint, RunRecord } from './run-record.js';
import { quantileSorted, summarize } from './statistics.js';
import {
  chart,
  color,
  el,
  esc,
  f,
  jitter,
  legend,
  legendWidth,
  linearScale,
  log10Scale,
  logScale,
  MODE_COLORS,
  msTickFormatter,
  niceTicks,
  textWidth,
  PHASE_COLORS,
  tip,
  xAxis,
  yAxis,
  type Box,
  type LegendItem,
  type Scale,
} from './svg.js';

const WIDTH = 800;
/** Gap between the plot area and the legend (room for the last x tick label). */
const LEGEND_GAP = 30;

function modeColor(record: RunRecord, mode: string): string {
  return color(MODE_COLORS, modesOf(record).indexOf(mode));
}

/** Label of one point × mode row: the mode alone for a one-point run, else "n=4 · local" (varying params only). */
function rowLabel(record: RunRecord, point: RunPoint, mode: string): string {
  if (record.points.length < 2) return mode;
  const keys = varyingParams(record);
  const shown = keys.length > 0 ? Object.fromEntries(keys.map((k) => [k, point.params[k]])) : point.params;
  return `${formatParams(shown, 28)} · ${mode}`;
}

/** Left margin wide enough for the longest row label (approximate glyph width 6.6 px at 12 px). */
function labelMargin(labels: readonly string[]): number {
  const longest = Math.max(0, ...labels.map(textWidth));
  return Math.min(260, Math.max(80, Math.ceil(longest) + 16));
}

/**
 * The frame of a chart with one labelled row per entry (phases, latency, compare): the plot box between the row
 * labels and the legend, and a height that fits both the rows and the legend.
 */
function rowsFrame(labels: readonly string[], rowH: number, items: readonly LegendItem[], legendTitle: string): { box: Box; height: number } {
  const legendW = legendWidth(items, legendTitle);
  const left = labelMargin(labels);
  const box: Box = { left, top: 36, width: WIDTH - left - legendW - LEGEND_GAP, height: labels.length * rowH + 8 };
  const height = Math.max(box.top + box.height + 56, box.top + 8 + (items.length + 1) * 18 + 8);
  return { box, height };
}

// ---- time vs parameter ----------------------------------------------------------------------------------------

export function timeVsParamChart(record: RunRecord, param: string): string {
  const points = [...record.points]
    .filter((p) => typeof p.params[param] === 'number')
    .sort((a, b) => (a.params[param] as number) - (b.params[param] as number));
  const modes = modesOf(record);
  const series = modes
    .map((mode) => ({
      mode,
      pts: points.flatMap((p) => {
        const s = modeStats(p, mode)?.total;
        return s ? [{ x: p.params[param] as number, s, p }] : [];
      }),
    }))
    .filter((s) => s.pts.length > 0);
  if (series.length === 0 || points.length < 2) return '';

  const items: LegendItem[] = series.map((s) => ({
    label: s.mode + (s.mode === record.baseline ? ' (baseline)' : s.mode === record.candidate ? ' (candidate)' : ''),
    color: modeColor(record, s.mode),
    kind: 'line' as const,
  }));
  const legendW = legendWidth(items, 'mode');
  const box: Box = { left: 78, top: 36, width: WIDTH - 78 - legendW - LEGEND_GAP, height: 260 };
  const height = box.top + box.height + 56;
  const xs = points.map((p) => p.params[param] as number);
  const distinct = [...new Set(xs)];
  const useLog = Math.min(...xs) > 0 && Math.max(...xs) / Math.min(...xs) >= 8;
  const inner = { r0: box.left + 18, r1: box.left + box.width - 18 };
  const x: Scale = useLog
    ? logScale(distinct, inner.r0, inner.r1)
    : linearScale(distinct.length <= 12 ? distinct.sort((a, b) => a - b) : niceTicks(Math.min(...xs), Math.max(...xs)), inner.r0, inner.r1);
  const ymax = Math.max(...series.flatMap((s) => s.pts.map((q) => q.s.median + q.s.mad)));
  const y = linearScale(niceTicks(0, ymax), box.top + box.height, box.top);
  const yl = msTickFormatter(y.ticks);

  let body = xAxis(box, x, (v) => String(v), `${param}${useLog ? ' (log scale)' : ''}`, false);
  body += yAxis(box, y, yl, 'median time');
  for (const s of series) {
    const c = modeColor(record, s.mode);
    const d = s.pts.map((q, i) => `${i === 0 ? 'M' : 'L'}${f(x(q.x))} ${f(y(q.s.median))}`).join(' ');
    let g = el('path', { class: 'series-line', d, fill: 'none', stroke: c, 'stroke-width': 2.5 }, tip(`${s.mode}: median time vs ${param}`));
    for (const q of s.pts) {
      const cx = x(q.x);
      const text = `${s.mode}, ${param}=${q.x}: median ${formatMs(q.s.median)} (MAD ${formatMs(q.s.mad)}, n=${q.s.n}, min ${formatMs(q.s.min)}, max ${formatMs(q.s.max)})`;
      if (q.s.mad > 0) {
        g += el('line', { class: 'whisker', x1: cx, y1: y(Math.max(0, q.s.median - q.s.mad)), x2: cx, y2: y(q.s.median + q.s.mad), stroke: c, 'stroke-width': 1.5 }, tip(text));
      }
      g += el('circle', { class: 'marker', cx, cy: y(q.s.median), r: 4.5, fill: c, stroke: '#fff', 'stroke-width': 1.5 }, tip(text));
    }
    body += el('g', { class: 'series', 'data-mode': s.mode }, g);
  }
  body += legend(box.left + box.width + LEGEND_GAP, box.top + 8, items, 'mode');
  const title = `${record.scenario}: median time vs ${param}`;
  return chart('time-vs-param', WIDTH, height, title, `Median total time per mode as ${param} varies; whiskers show ± MAD.`, body);
}

// ---- phases ---------------------------------------------------------------------------------------------------

export function phasesChart(record: RunRecord): string {
  const rows: { label: string; mode: string; point: RunPoint; phases: [string, number][]; total?: number }[] = [];
  const allPhases: string[] = [];
  for (const p of record.points) {
    for (const mode of modesOf(record)) {
      const st = modeStats(p, mode);
      if (!st) continue;
      const names = phaseNames(p, mode).filter((n) => st.phases[n] !== undefined);
      if (names.length === 0) continue;
      for (const n of names) if (!allPhases.includes(n)) allPhases.push(n);
      rows.push({ label: rowLabel(record, p, mode), mode, point: p, phases: names.map((n) => [n, st.phases[n]?.median ?? 0]), total: st.total.median });
    }
  }
  if (rows.length === 0) return '';
  const items: LegendItem[] = allPhases.map((n, i) => ({ label: n, color: color(PHASE_COLORS, i), kind: 'rect' }));
  items.push({ label: 'total (median)', color: '#222', kind: 'tick' });
  const rowH = 26;
  const { box, height } = rowsFrame(rows.map((r) => r.label), rowH, items, 'phase');
  const xmax = Math.max(...rows.map((r) => Math.max(r.phases.reduce((s, [, v]) => s + v, 0), r.total ?? 0)));
  const x = linearScale(niceTicks(0, xmax), box.left, box.left + box.width);
  let body = xAxis(box, x, msTickFormatter(x.ticks), 'median time (phases stacked)');
  body += el('line', { class: 'axis', x1: box.left, y1: box.top, x2: box.left, y2: box.top + box.height });
  rows.forEach((r, i) => {
    const y0 = box.top + 6 + i * rowH;
    let g = el('text', { class: 'row-label', x: box.left - 8, y: y0 + rowH / 2 + 1, 'text-anchor': 'end' }, esc(r.label));
    let acc = 0;
    for (const [name, v] of r.phases) {
      const x0 = x(acc);
      const x1 = x(acc + v);
      acc += v;
      g += el(
        'rect',
        { class: 'segment', 'data-phase': name, x: x0, y: y0 + 2, width: Math.max(0.5, x1 - x0), height: rowH - 8, fill: color(PHASE_COLORS, allPhases.indexOf(name)) },
        tip(`${r.label} — ${name}: median ${formatMs(v)}`),
      );
    }
    if (r.total !== undefined) {
      const tx = x(r.total);
      g += el('line', { class: 'total-mark', x1: tx, y1: y0 - 1, x2: tx, y2: y0 + rowH - 3, stroke: '#222', 'stroke-width': 2 }, tip(`${r.label} — total: median ${formatMs(r.total)}`));
    }
    body += el('g', { class: 'bar', 'data-mode': r.mode }, g);
  });
  body += legend(box.left + box.width + LEGEND_GAP, box.top + 8, items, 'phase');
  const title = `${record.scenario}: phase medians per mode`;
  return chart('phases', WIDTH, height, title, 'Median of each phase, stacked per mode; the black mark is the median total (phases need not sum to it).', body);
}

// ---- latency: box + strip of the measured totals ----------------------------------------------------------------

interface DistRow {
  label: string;
  mode: string;
  xs: number[];
  outliers: Set<number>;
}

function boxStripChart(name: string, title: string, desc: string, record: RunRecord, rows: DistRow[], axisTitle: string): string {
  const modes = [...new Set(rows.map((r) => r.mode))];
  const items: LegendItem[] = modes.map((m) => ({ label: m, color: modeColor(record, m), kind: 'rect' }));
  items.push({ label: 'outlier', color: '#d62728', kind: 'ring' });
  const rowH = 34;
  const { box, height } = rowsFrame(rows.map((r) => r.label), rowH, items, 'mode');
  const all = rows.flatMap((r) => r.xs);
  const lo = Math.min(...all);
  const hi = Math.max(...all);
  // Modes an order of magnitude apart (echo: 0.4 ms local vs 20 ms distributed) get a log axis so both show.
  const useLog = lo > 0 && hi / lo >= 20;
  const x = useLog ? log10Scale(lo, hi, box.left, box.left + box.width) : linearScale(niceTicks(lo, hi), box.left, box.left + box.width);
  let body = xAxis(box, x, msTickFormatter(x.ticks), useLog ? `${axisTitle} (log scale)` : axisTitle);
  body += el('line', { class: 'axis', x1: box.left, y1: box.top, x2: box.left, y2: box.top + box.height });
  rows.forEach((r, i) => {
    const c = modeColor(record, r.mode);
    const cy = box.top + 4 + i * rowH + rowH / 2;
    const sorted = [...r.xs].sort((a, b) => a - b);
    const q1 = quantileSorted(sorted, 0.25);
    const med = quantileSorted(sorted, 0.5);
    const q3 = quantileSorted(sorted, 0.75);
    const lo = sorted[0] as number;
    const hi = sorted[sorted.length - 1] as number;
    const summary = `${r.label}: n=${sorted.length}, min ${formatMs(lo)}, q1 ${formatMs(q1)}, median ${formatMs(med)}, q3 ${formatMs(q3)}, max ${formatMs(hi)}`;
    let g = el('text', { class: 'row-label', x: box.left - 8, y: cy + 4, 'text-anchor': 'end' }, esc(r.label));
    g += el('line', { class: 'whisker', x1: x(lo), y1: cy, x2: x(hi), y2: cy, stroke: c, 'stroke-width': 1.2 }, tip(summary));
    g += el('rect', { class: 'box', x: x(q1), y: cy - 9, width: Math.max(1, x(q3) - x(q1)), height: 18, fill: c, 'fill-opacity': 0.18, stroke: c }, tip(summary));
    g += el('line', { class: 'median', x1: x(med), y1: cy - 11, x2: x(med), y2: cy + 11, stroke: c, 'stroke-width': 2.5 }, tip(`${r.label}: median ${formatMs(med)}`));
    r.xs.forEach((v, j) => {
      const out = r.outliers.has(j);
      g += el(
        'circle',
        { class: out ? 'dot outlier' : 'dot', cx: x(v), cy: cy + jitter(j) * 14, r: out ? 3.5 : 2.5, fill: out ? '#fff' : c, stroke: out ? '#d62728' : 'none', 'stroke-width': out ? 1.5 : undefined, 'fill-opacity': out ? 1 : 0.7 },
        tip(`${r.label} #${j}: ${formatMs(v)}${out ? ' (outlier)' : ''}`),
      );
    });
    body += el('g', { class: 'dist', 'data-mode': r.mode }, g);
  });
  body += legend(box.left + box.width + LEGEND_GAP, box.top + 8, items, 'mode');
  return chart(name, WIDTH, height, title, desc, body);
}

export function latencyChart(record: RunRecord): string {
  const rows: DistRow[] = [];
  for (const p of record.points) {
    for (const mode of modesOf(record)) {
      const xs = measuredTotals(p, mode);
      if (xs.length === 0) continue;
      const own = p.stats[mode]?.total;
      const outliers = own && own.n === xs.length ? own.outliers : summarize(xs).outliers;
      rows.push({ label: rowLabel(record, p, mode), mode, xs, outliers: new Set(outliers) });
    }
  }
  if (rows.length === 0) return '';
  return boxStripChart(
    'latency',
    `${record.scenario}: distribution of total time per repeat`,
    'Box: quartiles and median; whisker: min to max; dots: every measured repeat (outliers ringed in red).',
    record,
    rows,
    'total time per repeat',
  );
}

// ---- latency-items: histogram of per-item latencies -------------------------------------------------------------

export function latencyItemsChart(record: RunRecord): string {
  const series: { label: string; mode: string; xs: number[] }[] = [];
  for (const p of record.points) {
    for (const mode of modesOf(record)) {
      const xs = measuredLatencies(p, mode).filter((v) => Number.isFinite(v));
      if (xs.length > 0) series.push({ label: rowLabel(record, p, mode), mode, xs });
    }
  }
  if (series.length === 0) return '';
  const seriesColor = (si: number): string => color(MODE_COLORS, modesOf(record).indexOf(series[si]!.mode) + (record.points.length > 1 ? si : 0));
  const items: LegendItem[] = series.map((s, si) => {
    const sorted = [...s.xs].sort((a, b) => a - b);
    return { label: `${s.label}: p50 ${formatMs(quantileSorted(sorted, 0.5))}, p99 ${formatMs(quantileSorted(sorted, 0.99))}`, color: seriesColor(si), kind: 'rect' };
  });
  const legendW = legendWidth(items, 'mode');
  const box: Box = { left: 70, top: 36, width: WIDTH - 70 - legendW - LEGEND_GAP, height: 240 };
  const height = box.top + box.height + 56;
  const all = series.flatMap((s) => s.xs);
  const x = linearScale(niceTicks(Math.min(...all), Math.max(...all), 6), box.left, box.left + box.width);
  const lo = x.ticks[0] as number;
  const hi = x.ticks[x.ticks.length - 1] as number;
  const nb = 24;
  const w = (hi - lo) / nb || 1;
  const counts = series.map((s) => {
    const c = new Array<number>(nb).fill(0);
    for (const v of s.xs) c[Math.min(nb - 1, Math.max(0, Math.floor((v - lo) / w)))]! += 1;
    return c;
  });
  const y = linearScale(niceTicks(0, Math.max(...counts.flat())), box.top + box.height, box.top);
  let body = xAxis(box, x, msTickFormatter(x.ticks), 'latency per item', false);
  body += yAxis(box, y, (v) => String(v), 'items');
  const binPx = x(lo + w) - x(lo);
  const barPx = Math.max(0.5, (binPx - 1) / series.length);
  series.forEach((s, si) => {
    const c = seriesColor(si);
    let g = '';
    counts[si]!.forEach((n, b) => {
      if (n === 0) return;
      const b0 = lo + b * w;
      g += el(
        'rect',
        { class: 'bin', x: x(b0) + 0.5 + si * barPx, y: y(n), width: barPx, height: y(0) - y(n), fill: c, 'fill-opacity': 0.8 },
        tip(`${s.label}: ${n} of ${s.xs.length} items in ${formatMs(b0)}–${formatMs(b0 + w)}`),
      );
    });
    body += el('g', { class: 'series', 'data-mode': s.mode }, g);
  });
  body += legend(box.left + box.width + LEGEND_GAP, box.top + 8, items, 'mode');
  return chart('latency-items', WIDTH, height, `${record.scenario}: per-item latency histogram`, 'Counts of per-item latencies (all measured repeats pooled), 24 equal bins.', body);
}

// ---- compare: forest plot -------------------------------------------------------------------------------------

const VERDICT_COLORS: Record<string, string> = { faster: '#2ca02c', slower: '#d62728', 'within noise': '#7f7f7f' };
/** Candidate ratio ticks with a thinning level: level-3 ticks go first when there are too many, then level 2. */
const RATIO_TICKS: [number, number][] = [
  [0.01, 1], [0.02, 2], [0.05, 1], [0.1, 1], [0.2, 2], [0.3, 3], [0.5, 1], [0.7, 3], [0.8, 2], [0.9, 3], [1, 0],
  [1.1, 3], [1.25, 2], [1.5, 3], [2, 1], [3, 3], [5, 2], [10, 1], [20, 2], [50, 2], [100, 1],
];

export function compareChart(c: Comparison): string {
  const rows = c.rows.filter((r) => r.ratio && Number.isFinite(r.ratio.ratio) && r.ratio.ratio > 0);
  if (rows.length === 0) return '';
  const items: LegendItem[] = Object.entries(VERDICT_COLORS).map(([label, col]) => ({ label, color: col, kind: 'rect' }));
  const labels = rows.map((r) => `${formatParams(r.params, 28)} · ${r.mode}`.replace(/^ · /, ''));
  const rowH = 26;
  const { box, height } = rowsFrame(labels, rowH, items, 'verdict');
  const finite = rows.flatMap((r) => [r.ratio!.low, r.ratio!.high, r.ratio!.ratio]).filter((v) => Number.isFinite(v) && v > 0);
  const dlo = Math.min(1, ...finite) / 1.15;
  const dhi = Math.max(1, ...finite) * 1.15;
  const inDomain = RATIO_TICKS.filter(([t]) => t >= dlo && t <= dhi);
  let level = 3;
  while (level > 0 && inDomain.filter(([, l]) => l <= level).length > 8) level--;
  const ticks = inDomain.filter(([, l]) => l <= level).map(([t]) => t);
  const l0 = Math.log2(dlo);
  const l1 = Math.log2(dhi);
  const x = ((v: number) => box.left + ((Math.log2(Math.min(dhi, Math.max(dlo, v))) - l0) / (l1 - l0)) * box.width) as Scale;
  x.ticks = ticks;
  x.log = true;
  let body = xAxis(box, x, (v) => `${v}×`, 'B/A median ratio (log scale; < 1: B faster)');
  body += el('line', { class: 'axis', x1: box.left, y1: box.top, x2: box.left, y2: box.top + box.height });
  body += el('line', { class: 'unity', x1: x(1), y1: box.top, x2: x(1), y2: box.top + box.height, stroke: '#222', 'stroke-dasharray': '4 3' }, tip('B/A = 1: no change'));
  rows.forEach((r, i) => {
    const band = r.ratio!;
    const col = VERDICT_COLORS[r.verdict] ?? '#7f7f7f';
    const cy = box.top + 4 + i * rowH + rowH / 2;
    const text = `${labels[i]}: B/A ${formatRatio(band.ratio)} (band ${formatRatio(band.low)}–${formatRatio(band.high)}, ${band.method}) — ${r.verdict}; A ${formatMs(r.a?.median)}, B ${formatMs(r.b?.median)}`;
    let g = el('text', { class: 'row-label', x: box.left - 8, y: cy + 4, 'text-anchor': 'end' }, esc(labels[i]));
    g += el('line', { class: 'band', x1: x(band.low), y1: cy, x2: x(band.high), y2: cy, stroke: col, 'stroke-width': 3 }, tip(text));
    g += el('rect', { class: 'estimate', x: x(band.ratio) - 5, y: cy - 5, width: 10, height: 10, fill: col }, tip(text));
    body += el('g', { class: 'row', 'data-verdict': r.verdict }, g);
  });
  body += legend(box.left + box.width + LEGEND_GAP, box.top + 8, items, 'verdict');
  return chart('compare', WIDTH, height, 'B/A median ratio with noise band', 'Each row: median(B)/median(A) (square) and its noise band (line).', body);
}
