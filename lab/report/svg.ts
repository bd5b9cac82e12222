/**
 * Tiny server-side SVG toolkit for the HTML report: escaping, number formatting for coordinates, "nice" axis
 * ticks, scales, axes and legends. Pure functions returning strings; deterministic (no randomness, no clock).
 */

/** Escape text for HTML/SVG element content and attribute values. */
export function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

/** A coordinate with one decimal, no trailing ".0". */
export function f(x: number): string {
  const r = Math.round(x * 10) / 10;
  return Object.is(r, -0) ? '0' : String(r);
}

/** Build an element: attrs are escaped; `children` is trusted markup (already escaped). */
export function el(tag: string, attrs: Record<string, string | number | undefined>, children = ''): string {
  const a = Object.entries(attrs)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${esc(typeof v === 'number' ? f(v) : v)}"`)
    .join('');
  return children === '' && tag !== 'text' && tag !== 'title' ? `<${tag}${a}/>` : `<${tag}${a}>${children}</${tag}>`;
}

/** A `<title>` tooltip child. */
export function tip(text: string): string {
  return `<title>${esc(text)}</title>`;
}

export const MODE_COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf'];
export const PHASE_COLORS = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

export function color(palette: readonly string[], i: number): string {
  return palette[((i % palette.length) + palette.length) % palette.length] as string;
}

function clean(x: number): number {
  return Number(x.toPrecision(12));
}

/** Round-number ticks covering [lo, hi], about `count` of them. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [0, 1];
  if (hi < lo) [lo, hi] = [hi, lo];
  if (hi === lo) {
    if (lo === 0) return [0, 1];
    const pad = Math.abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const fr = raw / mag;
  const step = (fr < 1.5 ? 1 : fr < 3 ? 2 : fr < 7 ? 5 : 10) * mag;
  const start = Math.floor(clean(lo / step)) * step;
  const end = Math.ceil(clean(hi / step)) * step;
  const ticks: number[] = [];
  for (let i = 0; start + i * step <= end + step * 1e-9 && i < 100; i++) ticks.push(clean(start + i * step));
  return ticks;
}

/** Axis label for a millisecond value, the unit chosen once per axis from its largest tick. */
export function msTickFormatter(ticks: readonly number[]): (v: number) => string {
  const max = Math.max(...ticks.map(Math.abs));
  if (max >= 1000) return (v) => `${clean(v / 1000)} s`;
  if (max > 0 && max < 0.1) return (v) => `${clean(v * 1000)} µs`;
  return (v) => `${clean(v)} ms`;
}

export interface Scale {
  (v: number): number;
  ticks: number[];
  log: boolean;
}

/** Linear scale from domain [d0, d1] to range [r0, r1]; `ticks` are the nice ticks used for the domain. */
export function linearScale(ticks: number[], r0: number, r1: number): Scale {
  const d0 = ticks[0] as number;
  const d1 = ticks[ticks.length - 1] as number;
  const span = d1 - d0 || 1;
  const s = ((v: number) => r0 + ((v - d0) / span) * (r1 - r0)) as Scale;
  s.ticks = ticks;
  s.log = false;
  return s;
}

/** Log scale (base 2 spacing, positive values) over [min(values), max(values)]; ticks are the values themselves. */
export function logScale(values: number[], r0: number, r1: number): Scale {
  const ticks = [...new Set(values)].sort((a, b) => a - b);
  const l0 = Math.log2(ticks[0] as number);
  const l1 = Math.log2(ticks[ticks.length - 1] as number);
  const span = l1 - l0 || 1;
  const s = ((v: number) => r0 + ((Math.log2(v) - l0) / span) * (r1 - r0)) as Scale;
  s.ticks = ticks;
  s.log = true;
  return s;
}

/**
 * Log-10 scale over [lo, hi] (both > 0) with ticks at 1-2-5 × 10^k, thinned to 1-5 × 10^k, then 1 × 10^k, then
 * every other decade, until neighbouring ticks are at least MIN_TICK_PX apart.
 */
export function log10Scale(lo: number, hi: number, r0: number, r1: number): Scale {
  let l0 = Math.log10(lo);
  let l1 = Math.log10(hi);
  const pad = (l1 - l0) * 0.04 || 0.1;
  l0 -= pad;
  l1 += pad;
  const s = ((v: number) => r0 + ((Math.log10(Math.max(v, 10 ** l0)) - l0) / (l1 - l0)) * (r1 - r0)) as Scale;
  const candidates = (mantissas: number[], decadeStep: number): number[] => {
    const out: number[] = [];
    for (let k = Math.floor(l0); k <= Math.ceil(l1); k++) {
      if (((k % decadeStep) + decadeStep) % decadeStep !== 0) continue;
      for (const m of mantissas) {
        const t = clean(m * 10 ** k);
        const lt = Math.log10(t);
        if (lt >= l0 && lt <= l1) out.push(t);
      }
    }
    return out;
  };
  const spaced = (ticks: number[]): boolean => ticks.every((t, i) => i === 0 || Math.abs(s(t) - s(ticks[i - 1] as number)) >= MIN_TICK_PX);
  let ticks: number[] = [];
  for (const [ms, step] of [[[1, 2, 5], 1], [[1, 5], 1], [[1], 1], [[1], 2], [[1], 3]] as [number[], number][]) {
    ticks = candidates(ms, step);
    if (spaced(ticks)) break;
  }
  s.ticks = ticks.length >= 2 ? ticks : [clean(10 ** l0), clean(10 ** l1)];
  s.log = true;
  return s;
}

/** Smallest distance between labelled ticks on a log axis, in SVG units. */
const MIN_TICK_PX = 52;

export interface Box {
  /** Plot area in SVG user units. */
  left: number;
  top: number;
  width: number;
  height: number;
}

/** Horizontal (bottom) axis with tick marks, labels, light grid lines up to `box.top`, and an axis title. */
export function xAxis(box: Box, scale: Scale, label: (v: number) => string, title: string, grid = true): string {
  const y = box.top + box.height;
  let out = el('line', { class: 'axis', x1: box.left, y1: y, x2: box.left + box.width, y2: y });
  for (const t of scale.ticks) {
    const x = scale(t);
    if (grid) out += el('line', { class: 'grid', x1: x, y1: box.top, x2: x, y2: y });
    out += el('line', { class: 'axis', x1: x, y1: y, x2: x, y2: y + 5 });
    out += el('text', { class: 'tick', x, y: y + 18, 'text-anchor': 'middle' }, esc(label(t)));
  }
  out += el('text', { class: 'axis-title', x: box.left + box.width / 2, y: y + 38, 'text-anchor': 'middle' }, esc(title));
  return el('g', { class: 'x-axis' }, out);
}

/** Vertical (left) axis with ticks, labels, grid lines across the plot, and a rotated axis title. */
export function yAxis(box: Box, scale: Scale, label: (v: number) => string, title: string): string {
  const x = box.left;
  let out = el('line', { class: 'axis', x1: x, y1: box.top, x2: x, y2: box.top + box.height });
  for (const t of scale.ticks) {
    const y = scale(t);
    out += el('line', { class: 'grid', x1: x, y1: y, x2: x + box.width, y2: y });
    out += el('line', { class: 'axis', x1: x - 5, y1: y, x2: x, y2: y });
    out += el('text', { class: 'tick', x: x - 8, y: y + 4, 'text-anchor': 'end' }, esc(label(t)));
  }
  const cy = box.top + box.height / 2;
  out += el('text', { class: 'axis-title', x: 16, y: cy, 'text-anchor': 'middle', transform: `rotate(-90 16 ${f(cy)})` }, esc(title));
  return el('g', { class: 'y-axis' }, out);
}

export interface LegendItem {
  label: string;
  color: string;
  /** 'line' (a short stroke), 'rect' (a swatch), 'tick' (a vertical mark) or 'ring' (an open circle). */
  kind: 'line' | 'rect' | 'tick' | 'ring';
}

/** Approximate rendered width of text at the chart's 11.5–12 px font (no font metrics server-side). */
export function textWidth(s: string): number {
  return [...s].length * 6.6;
}

/** Width a legend needs: swatch + gap + the longest label (or the title), plus a margin. */
export function legendWidth(items: readonly LegendItem[], title?: string): number {
  const longest = Math.max(title ? textWidth(title) : 0, ...items.map((it) => 24 + textWidth(it.label)));
  return Math.ceil(longest) + 16;
}

/** A vertical legend starting at (x, y). */
export function legend(x: number, y: number, items: readonly LegendItem[], title?: string): string {
  let out = '';
  let yy = y;
  if (title) {
    out += el('text', { class: 'legend-title', x, y: yy + 4 }, esc(title));
    yy += 18;
  }
  for (const it of items) {
    if (it.kind === 'line') out += el('line', { x1: x, y1: yy, x2: x + 18, y2: yy, stroke: it.color, 'stroke-width': 2.5 });
    else if (it.kind === 'tick') out += el('line', { x1: x + 9, y1: yy - 7, x2: x + 9, y2: yy + 7, stroke: it.color, 'stroke-width': 2 });
    else if (it.kind === 'ring') out += el('circle', { cx: x + 9, cy: yy, r: 3.5, fill: '#fff', stroke: it.color, 'stroke-width': 1.5 });
    else out += el('rect', { x, y: yy - 6, width: 18, height: 12, fill: it.color });
    out += el('text', { class: 'legend-label', x: x + 24, y: yy + 4 }, esc(it.label));
    yy += 18;
  }
  return el('g', { class: 'legend' }, out);
}

/**
 * An `<svg>` chart: stable `data-chart` name, an accessible `<title>` and `<desc>`, a visible title line.
 * Width/height are also the viewBox so the chart scales with its container.
 */
export function chart(name: string, width: number, height: number, title: string, desc: string, body: string): string {
  return el(
    'svg',
    {
      xmlns: 'http://www.w3.org/2000/svg',
      class: 'chart',
      'data-chart': name,
      viewBox: `0 0 ${width} ${height}`,
      width,
      height,
      role: 'img',
      'aria-label': title,
    },
    `${tip(title)}<desc>${esc(desc)}</desc>` + el('text', { class: 'chart-title', x: width / 2, y: 20, 'text-anchor': 'middle' }, esc(title)) + body,
  );
}

/** Deterministic jitter in [-0.5, 0.5) for the i-th dot of a strip plot (golden-ratio sequence). */
export function jitter(i: number): number {
  return ((i * 0.6180339887498949) % 1) - 0.5;
}
