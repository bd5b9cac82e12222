/**
 * GitHub-flavoured Markdown: the same rows as the terminal table, as a pipe table, plus verification failures.
 */
import { COMPARE_HEAD, compareCells, runLabel } from './compare.js';
import type { Comparison } from './compare.js';
import { modeStats, speedup } from './derive.js';
import { formatMs, formatParams, formatRatio, formatWhen } from './format.js';
import { hasImplementations, implementationLines, matrixRows, matrixTitle, vsLabNote } from './implementations.js';
import type { RunRecord } from './run-record.js';

/** Make text safe inside a table cell: no pipes, newlines, inline HTML or emphasis surprises. */
export function mdCell(s: string): string {
  return s
    .replace(/\\/g, '\\\\')
    .replace(/[|*_`[\]]/g, (c) => `\\${c}`)
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/\r?\n|\r/g, ' ');
}

function mdTable(head: string[], align: ('l' | 'r' | 'c')[], rows: string[][]): string {
  const sep = align.map((a) => (a === 'r' ? '---:' : a === 'c' ? ':---:' : '---'));
  return [head, sep, ...rows].map((cells, i) => `| ${(i === 1 ? cells : cells.map(mdCell)).join(' | ')} |`).join('\n');
}

export function renderMarkdown(records: readonly RunRecord[]): string {
  const rows: string[][] = [];
  const failures: string[] = [];
  for (const r of records) {
    for (const p of r.points) {
      const sp = speedup(r, p);
      const cell = (m: string): string => `${m} ${formatMs(modeStats(p, m)?.total.median)}`;
      rows.push([
        r.scenario,
        formatParams(p.params),
        `${r.lab.kind}/${r.lab.name}`,
        cell(r.baseline),
        cell(r.candidate),
        sp ? formatRatio(sp.ratio) : '—',
        p.verify.ok ? '✓' : '✗',
        String(r.repeat),
        formatWhen(r.startedAt),
      ]);
      if (!p.verify.ok) failures.push(`- ✗ ${mdCell(`${r.scenario} ${formatParams(p.params)} (${r.id}): ${p.verify.detail}`)}`);
    }
  }
  const out = [
    '## lab report',
    '',
    mdTable(
      ['scenario', 'params', 'lab', 'baseline', 'candidate', 'speed-up', 'verified', 'n', 'when'],
      ['l', 'l', 'l', 'r', 'r', 'r', 'c', 'r', 'l'],
      rows,
    ),
    '',
    'speed-up = baseline median / candidate median; times are medians of the measured repeats.',
  ];
  for (const r of records.filter(hasImplementations)) {
    for (const p of r.points) {
      const m = matrixRows(r, p);
      out.push('', `### ${mdCell(matrixTitle(r, p))}`, '', mdTable(m.head, ['l', ...m.head.slice(1).map(() => 'r' as const)], m.rows));
    }
    out.push('', mdCell(vsLabNote(r)), '', ...implementationLines(r).map((l) => `- ${mdCell(l)}`));
  }
  if (failures.length > 0) out.push('', '**Verification failed:**', '', ...failures);
  const stopped = records.filter((r) => r.error).map((r) => `- ${mdCell(`${r.scenario} (${r.id}): ${r.error}`)}`);
  if (stopped.length > 0) out.push('', '**Stopped early:**', '', ...stopped);
  return `${out.join('\n')}\n`;
}

export function renderCompareMarkdown(c: Comparison): string {
  const rows = c.rows.map(compareCells);
  const out = [
    '## lab compare',
    '',
    `- **A:** ${mdCell(runLabel(c.a))}`,
    `- **B:** ${mdCell(runLabel(c.b))}`,
    '',
    mdTable(COMPARE_HEAD, ['l', 'l', 'l', 'r', 'r', 'r', 'l', 'l'], rows),
    '',
    'B/A < 1: B is faster. band: 95% bootstrap CI of the median ratio (bootstrap) or median ± MAD (mad).',
  ];
  if (c.notes.length > 0) out.push('', ...c.notes.map((n) => `> note: ${mdCell(n)}`));
  return `${out.join('\n')}\n`;
}
