/**
 * Terminal table (cli-table3, no colours): one row per point of each selected run — scenario, params, lab,
 * baseline median, candidate median, speed-up (baseline/candidate), verified, repeats, when (UTC).
 */
import Table from '../vendor/cli-table3.js';
import { COMPARE_HEAD, compareCells, runLabel } from './compare.js';
import type { Comparison } from './compare.js';
import { modeStats, modesOf, speedup } from './derive.js';
import { formatMs, formatParams, formatRatio, formatWhen } from './format.js';
import { hasImplementations, implementationLines, labModes, matrixRows, matrixTitle, vsLabNote } from './implementations.js';
import type { RunRecord } from './run-record.js';

function newTable(head: string[], colAligns: ('left' | 'right' | 'center')[]): Table.Table {
  return new Table({
    head,
    colAligns,
    style: { head: [], border: [], compact: true, 'padding-left': 1, 'padding-right': 1 },
  });
}

function modeCell(point: RunRecord['points'][number], mode: string): string {
  const s = modeStats(point, mode);
  return `${mode} ${s ? formatMs(s.total.median) : '—'}`;
}

export function renderTable(records: readonly RunRecord[]): string {
  // A run of several implementations keeps to lab's modes here; its implementation × mode matrix follows the table.
  const withOthers = records.some((r) => labModes(r, modesOf(r)).length > 2);
  const head = ['scenario', 'params', 'lab', 'baseline', 'candidate', 'speed-up', 'verified', 'n', 'when'];
  const aligns: ('left' | 'right' | 'center')[] = ['left', 'left', 'left', 'right', 'right', 'right', 'center', 'right', 'left'];
  if (withOthers) {
    head.splice(6, 0, 'other modes');
    aligns.splice(6, 0, 'left');
  }
  const table = newTable(head, aligns);
  const failures: string[] = [];
  for (const r of records) {
    const others = labModes(r, modesOf(r)).filter((m) => m !== r.baseline && m !== r.candidate);
    for (const p of r.points) {
      const sp = speedup(r, p);
      const row = [
        r.scenario,
        formatParams(p.params),
        `${r.lab.kind}/${r.lab.name}`,
        modeCell(p, r.baseline),
        modeCell(p, r.candidate),
        sp ? formatRatio(sp.ratio) : '—',
        p.verify.ok ? '✓' : '✗',
        String(r.repeat),
        formatWhen(r.startedAt),
      ];
      if (withOthers) row.splice(6, 0, others.map((m) => modeCell(p, m)).join(', '));
      table.push(row);
      if (!p.verify.ok) failures.push(`✗ ${r.scenario} ${formatParams(p.params)} (${r.id}): ${p.verify.detail}`.replace(/\s+/g, ' '));
    }
  }
  const stopped = records.filter((r) => r.error).map((r) => `${r.scenario} (${r.id}): ${r.error}`.replace(/\s+/g, ' '));
  const lines = [table.toString()];
  for (const r of records.filter(hasImplementations)) {
    for (const p of r.points) {
      const m = matrixRows(r, p);
      const t = newTable(m.head, ['left', ...m.head.slice(1).map(() => 'right' as const)]);
      for (const row of m.rows) t.push(row);
      lines.push('', `${matrixTitle(r, p)} · ${r.id}`, t.toString());
    }
    lines.push(vsLabNote(r), ...implementationLines(r));
  }
  if (failures.length > 0) lines.push('', 'verification failed:', ...failures);
  if (stopped.length > 0) lines.push('', 'stopped early:', ...stopped);
  return `${lines.join('\n')}\n`;
}

export function renderCompareTable(c: Comparison): string {
  const table = newTable(COMPARE_HEAD, ['left', 'left', 'left', 'right', 'right', 'right', 'left', 'left']);
  for (const row of c.rows) table.push(compareCells(row));
  const lines = [`A: ${runLabel(c.a)}`, `B: ${runLabel(c.b)}`, table.toString()];
  if (c.notes.length > 0) lines.push('', ...c.notes.map((n) => `note: ${n}`));
  lines.push('', 'B/A < 1: B is faster. band: 95% bootstrap CI of the median ratio (bootstrap) or median ± MAD (mad).');
  return `${lines.join('\n')}\n`;
}
