/** What `lab run` prints for people: a table per run (modes × statistics, phase medians), the ratio, the verdict. */
import Table from '../vendor/cli-table3.js';
import { formatMs, formatParams, formatRatio } from '../report/format.js';
import { speedup } from '../report/derive.js';
import { hasImplementations, implementationLines, vsLabNote, vsLabText } from '../report/implementations.js';
import { splitModeKey } from '../report/run-record.js';
import type { RunRecord } from '../report/run-record.js';
import type { AnyScenario } from '../../scenarios/scenario.js';

function labLine(r: RunRecord): string {
  const w = r.lab.workers;
  const where = r.lab.kind === 'embedded' ? 'embedded lab (this machine, in-memory broker and backend)' : `${r.lab.kind} lab "${r.lab.name}" (broker ${r.lab.broker.url}, backend ${r.lab.backend.url})`;
  return `${where} · workers: ${w.pool} pool × ${w.concurrency}${w.hosts.length ? ` on ${w.hosts.join(', ')}` : ''} · serializer ${r.lab.serializer ?? 'json'}`;
}

export function renderRunSummary(r: RunRecord, extraLines: string[] = []): string {
  const out: string[] = [];
  const repeats = `${r.repeat} repeat${r.repeat === 1 ? '' : 's'}${r.warmup ? ` after ${r.warmup} warm-up` : ''}`;
  out.push(`${r.scenario} · ${labLine(r)} · ${repeats}`);
  // A run that compared implementations: each row names its implementation, and a peer's its time × lab's.
  const impls = hasImplementations(r);
  const table = new Table({
    head: impls ? ['params', 'impl', 'mode', 'median', 'min', 'p95', 'p99', 'stddev', '× lab', 'phases (median)'] : ['params', 'mode', 'median', 'min', 'p95', 'p99', 'stddev', 'phases (median)'],
    colAligns: impls ? ['left', 'left', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'left'] : ['left', 'left', 'right', 'right', 'right', 'right', 'right', 'left'],
    style: { head: [], border: [], 'padding-left': 1, 'padding-right': 1 },
  });
  for (const p of r.points) {
    for (const mode of r.modes) {
      const s = p.stats[mode];
      if (!s) continue;
      const phases = Object.entries(s.phases)
        .filter(([name]) => Object.keys(s.phases).length > 1 || name !== 'total')
        .map(([name, ph]) => `${name} ${formatMs(ph.median)}`)
        .join(' · ');
      const figures = [formatMs(s.total.median), formatMs(s.total.min), formatMs(s.total.p95), formatMs(s.total.p99), r.repeat > 1 ? formatMs(s.total.stddev) : '—'];
      if (impls) {
        const k = splitModeKey(mode);
        table.push([formatParams(p.params, 40), k.impl, k.mode, ...figures, vsLabText(r, p, mode) || '—', phases]);
      } else table.push([formatParams(p.params, 40), mode, ...figures, phases]);
    }
  }
  out.push(table.toString());
  if (impls) out.push(vsLabNote(r), ...implementationLines(r));
  for (const p of r.points) {
    const sp = speedup(r, p);
    const cand = p.stats[r.candidate]?.total.median;
    const base = p.stats[r.baseline]?.total.median;
    const ratioText = sp && cand !== undefined && base !== undefined ? `${r.candidate}/${r.baseline} time ${formatRatio(cand / base)} (speed-up ${formatRatio(sp.ratio)})` : '';
    const params = r.points.length > 1 ? `${formatParams(p.params)}: ` : '';
    out.push(`${params}${ratioText}${ratioText ? ' · ' : ''}${p.verify.ok ? '✓ verified' : '✗ NOT verified'}: ${p.verify.detail}`);
  }
  if (r.repeat === 1) out.push(`(one repeat: use --repeat 10 --warmup 2 for statistics)`);
  out.push(...extraLines);
  if (r.error) out.push(`stopped early: ${r.error}`);
  return `${out.join('\n')}\n`;
}

/** Print a run record as `lab run` does, for the embedded lab and a provisioned lab alike: JSON, or the summary. */
export function printRunRecord(record: RunRecord, scenario: AnyScenario, path: string, json: boolean, write: (s: string) => void = (s) => process.stdout.write(s)): void {
  if (json) {
    write(`${JSON.stringify(record, null, 2)}\n`);
    return;
  }
  const describe = scenario.describe;
  const lines = describe ? record.points.flatMap((p) => (p.output === undefined ? [] : describe(p.output))) : [];
  write(renderRunSummary(record, lines));
  write(`run record: ${path}\n`);
}

/** 0 verified, 1 failed or not verified, 130 stopped by Ctrl-C. */
export function runExitCode(record: RunRecord, interrupted: boolean): number {
  if (record.error) return interrupted ? 130 : 1;
  return record.verified ? 0 : 1;
}
