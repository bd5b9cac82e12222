/**
 * The fault timeline over throughput per second (data-chart "faults"): a run with `--faults` whose scenario
 * counts per second (the ledger scenario) gets bars of tasks done per second, duplicated executions stacked on
 * them, and each fault as a shaded band from when it was in effect to when it was healed (an instant — kill,
 * restart — until the service was back), labelled, with its time to recover in the tooltip.
 */
import { faultWindow } from '../faults/windows.js';
import type { SecondCounts } from '../faults/windows.js';
import type { RunRecord } from './run-record.js';
import { chart, el, esc, f, legend, legendWidth, linearScale, niceTicks, tip, xAxis, yAxis } from './svg.js';
import type { Box, LegendItem } from './svg.js';

const WIDTH = 800;
const DONE = '#4e79a7';
const DUP = '#f28e2b';
const FAULT = '#e15759';

export function faultsChart(record: RunRecord): string {
  const faults = record.faults;
  if (!faults) return '';
  const perSecond = record.points.map((p) => (p.output as { perSecond?: SecondCounts[] } | undefined)?.perSecond).find((x) => Array.isArray(x) && x.length > 0);
  if (!perSecond) return '';
  const t0s = faults.t0 / 1000;
  const events = faults.timeline.filter((e) => e.error === undefined);
  const windows = events.map((e) => {
    const w = faultWindow(e, faults.t0);
    return { e, from: w.startMs / 1000 - t0s, to: w.endMs / 1000 - t0s };
  });
  const xs = perSecond.map((s) => s.second - t0s);
  const xMax = Math.max(...xs.map((x) => x + 1), ...windows.map((w) => w.to));
  const xMin = Math.min(0, ...xs);
  const yMax = Math.max(1, ...perSecond.map((s) => s.done + s.duplicated));
  const items: LegendItem[] = [
    { label: 'done / s', color: DONE, kind: 'rect' },
    { label: 'duplicated / s', color: DUP, kind: 'rect' },
    { label: 'fault in effect', color: FAULT, kind: 'rect' },
  ];
  const legendW = legendWidth(items);
  const box: Box = { left: 64, top: 36 + events.length * 14, width: WIDTH - 64 - legendW - 30, height: 220 };
  const x = linearScale(niceTicks(xMin, xMax, 8), box.left, box.left + box.width);
  const y = linearScale(niceTicks(0, yMax, 5), box.top + box.height, box.top);
  let body = '';
  windows.forEach((w, i) => {
    const x0 = x(w.from);
    const x1 = Math.max(x(w.to), x0 + 2);
    const recover = w.e.recoveryMs != null ? `; back after ${(w.e.recoveryMs / 1000).toFixed(2)} s` : '';
    body += el('rect', { x: f(x0), y: box.top, width: f(x1 - x0), height: box.height, fill: FAULT, 'fill-opacity': 0.15, stroke: FAULT, 'stroke-opacity': 0.6 }, tip(`${w.e.text}: ${w.from.toFixed(1)} s → ${w.to.toFixed(1)} s${recover}`));
    body += el('text', { class: 'tick', x: f(x0), y: 34 + i * 14, fill: FAULT }, esc(w.e.text));
  });
  const barW = Math.max(1, x(1) - x(0) - 1);
  for (const s of perSecond) {
    const sx = x(s.second - t0s);
    const yDone = y(s.done);
    const yTop = y(s.done + s.duplicated);
    const when = `${(s.second - t0s).toFixed(0)} s`;
    body += el('rect', { x: f(sx), y: f(yDone), width: f(barW), height: f(box.top + box.height - yDone), fill: DONE }, tip(`${when}: ${s.done} done, ${s.sent} sent, ${s.lost} of them lost, ${s.late} late`));
    if (s.duplicated > 0) body += el('rect', { x: f(sx), y: f(yTop), width: f(barW), height: f(yDone - yTop), fill: DUP }, tip(`${when}: ${s.duplicated} duplicated executions`));
  }
  body += xAxis(box, x, (v) => `${v}`, 'seconds from the start of the fault schedule');
  body += yAxis(box, y, (v) => `${v}`, 'tasks / s');
  body += legend(box.left + box.width + 30, box.top + 4, items);
  const height = box.top + box.height + 56;
  return chart('faults', WIDTH, height, `${record.scenario}: throughput per second and the faults`, 'Bars: tasks done per second (and duplicated executions); shaded: each fault from when it was in effect to its heal, or until the killed service was back.', body);
}
