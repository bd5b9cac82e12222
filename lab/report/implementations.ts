/**
 * How every renderer shows a run that compared implementations (`lab run --impl lab,celery,rq,pyro`): the
 * implementation × mode matrix of median times, each peer's cell with its time relative to the bundled runtime's
 * same mode ("× lab": median(peer) / median(lab) — 2.00× took twice as long as lab, 0.50× half as long), and what
 * a reader must know about how each ran (its workers, driver, serializer, notes such as RQ's polling interval).
 * Records without implementations render exactly as before.
 */
import { hasImplementations, implementationMatrix, modeStats, vsLab } from './derive.js';
import { formatMs, formatParams, formatRatio } from './format.js';
import { LAB_IMPLEMENTATION, splitModeKey } from './run-record.js';
import type { RunPoint, RunRecord } from './run-record.js';

export { hasImplementations };

/** "1.03×", or "0.72× sequential" when the lab mode it is compared with has another name; '' for lab's own or none. */
export function vsLabText(record: RunRecord, point: RunPoint, key: string): string {
  const v = vsLab(record, point, key);
  if (!v) return '';
  const same = splitModeKey(key).mode === v.against;
  return `${formatRatio(v.ratio.ratio)}${same ? '' : ` ${v.against}`}`;
}

/**
 * One matrix cell for people: "4.78 ms (1.03× lab)", "28.2 ms (0.38× lab distributed)" when compared with a lab
 * mode of another name, lab's own "4.65 ms", or "—" where the implementation has no such mode.
 */
export function matrixCell(record: RunRecord, point: RunPoint, impl: string, mode: string): string {
  const m = implementationMatrix(record);
  const key = m.key(impl, mode);
  if (!key) return '—';
  const s = modeStats(point, key);
  if (!s) return '—';
  const v = impl === LAB_IMPLEMENTATION ? undefined : vsLab(record, point, key);
  if (!v) return formatMs(s.total.median);
  return `${formatMs(s.total.median)} (${formatRatio(v.ratio.ratio)} lab${v.against === mode ? '' : ` ${v.against}`})`;
}

/** The matrix of one point as text cells: a head row (mode, implementations…) and one row per mode. */
export function matrixRows(record: RunRecord, point: RunPoint): { head: string[]; rows: string[][] } {
  const m = implementationMatrix(record);
  return { head: ['mode', ...m.impls], rows: m.modes.map((mode) => [mode, ...m.impls.map((impl) => matrixCell(record, point, impl, mode))]) };
}

/** The pairs compared under different names ("pyro sync ↔ lab sequential"), for the note under a matrix. */
function renamedPairs(record: RunRecord): string[] {
  const out: string[] = [];
  for (const i of record.implementations ?? []) {
    for (const [key, lab] of Object.entries(i.compareTo ?? {})) {
      const { impl, mode } = splitModeKey(key);
      if (mode !== lab) out.push(`${impl} ${mode} ↔ lab ${lab}`);
    }
  }
  return out;
}

/** What the ratios mean, in one line. */
export function vsLabNote(record: RunRecord): string {
  const pairs = renamedPairs(record);
  return `× lab = the implementation's median time / the bundled runtime's (lab) median in the same mode (above 1: slower than lab)${pairs.length ? `; compared across names: ${pairs.join(', ')}` : ''}.`;
}

/** A title for one point's matrix: the scenario, the point's parameters (when the run has several), the run. */
export function matrixTitle(record: RunRecord, point: RunPoint): string {
  const params = record.points.length > 1 ? ` · ${formatParams(point.params)}` : '';
  return `${record.scenario}${params} — implementation × mode, median time (× lab)`;
}

/** The modes of a record that are the bundled runtime's (a record's "other modes" column keeps to these). */
export function labModes(record: RunRecord, modes: readonly string[]): string[] {
  return modes.filter((m) => splitModeKey(m).impl === LAB_IMPLEMENTATION || !hasImplementations(record));
}

/** How each implementation ran, one line each ("rq: 2 × python3 -m rq.cli worker … on HOST3 · pickle · …"). */
export function implementationLines(record: RunRecord): string[] {
  if (!hasImplementations(record)) return [];
  const peers = record.env.peers ?? {};
  return (record.implementations ?? []).map((i) => {
    const parts: string[] = [];
    if (i.workers) parts.push(`${i.workers.processes} × ${i.workers.command} on ${i.workers.hosts.join(', ')}`);
    if (i.driver) parts.push(`driver on ${i.driver.host ?? '?'}${i.driver.startMs !== undefined ? ` (start-up ${formatMs(i.driver.startMs)}, not in the times)` : ''}`);
    if (i.serializer) parts.push(`serializer ${i.serializer}`);
    const v = peers[i.name];
    if (v) parts.push(Object.entries(v).map(([k, x]) => `${k} ${x}`).join(', '));
    for (const n of i.notes ?? []) parts.push(n);
    return `${i.name}: ${i.name === LAB_IMPLEMENTATION ? `the bundled runtime (its workers: the lab's) · ${parts.join(' · ')}` : parts.join(' · ')}`;
  });
}
