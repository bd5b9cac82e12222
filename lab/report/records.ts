/**
 * Run records on disk: load a reports directory (tolerantly), write one record (atomically), and pick records
 * for a report (latest per scenario, last N, by scenario, by id / id prefix / label).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../atomic-write.js';
import { UsageError } from '../errors.js';
import { RUN_RECORD_SCHEMA, type RunRecord } from './run-record.js';

export interface LoadResult {
  /** Valid records, oldest first (by startedAt, then id). */
  records: RunRecord[];
  /** One line per skipped file: "<file>: skipped: <why>". */
  warnings: string[];
}

/** JSON documents this package writes itself (`lab report --format json --out …`): skipped silently when loading. */
const OWN_REPORT_SCHEMAS = /^lab\.(report|compare)\/\d+$/;

type Check = (v: unknown, at: string) => string | null;

const typeName = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const str: Check = (v, at) => (typeof v === 'string' ? null : `${at}: expected a string, got ${typeName(v)}`);
const num: Check = (v, at) => (typeof v === 'number' && Number.isFinite(v) ? null : `${at}: expected a number, got ${typeName(v)}`);
const bool: Check = (v, at) => (typeof v === 'boolean' ? null : `${at}: expected a boolean, got ${typeName(v)}`);
const obj: Check = (v, at) => (isObj(v) ? null : `${at}: expected an object, got ${typeName(v)}`);
const optional =
  (c: Check): Check =>
  (v, at) =>
    v === undefined ? null : c(v, at);
const arrayOf =
  (c: Check): Check =>
  (v, at) => {
    if (!Array.isArray(v)) return `${at}: expected an array, got ${typeName(v)}`;
    for (let i = 0; i < v.length; i++) {
      const e = c(v[i], `${at}[${i}]`);
      if (e) return e;
    }
    return null;
  };
const recordOf =
  (c: Check): Check =>
  (v, at) => {
    if (!isObj(v)) return `${at}: expected an object, got ${typeName(v)}`;
    for (const [k, x] of Object.entries(v)) {
      const e = c(x, `${at}.${k}`);
      if (e) return e;
    }
    return null;
  };
const shape =
  (fields: Record<string, Check>): Check =>
  (v, at) => {
    if (!isObj(v)) return `${at}: expected an object, got ${typeName(v)}`;
    for (const [k, c] of Object.entries(fields)) {
      const e = c(v[k], at ? `${at}.${k}` : k);
      if (e) return e;
    }
    return null;
  };

const summary = shape({
  n: num,
  min: num,
  max: num,
  mean: num,
  median: num,
  stddev: num,
  mad: num,
  p95: num,
  p99: num,
  outliers: arrayOf(num),
});

const sample = shape({
  mode: str,
  repeat: num,
  warmup: bool,
  totalMs: num,
  phases: recordOf(num),
  latenciesMs: optional(arrayOf(num)),
});

const point = shape({
  params: obj,
  samples: arrayOf(sample),
  stats: recordOf(shape({ total: summary, phases: recordOf(summary) })),
  verify: shape({ ok: bool, detail: str }),
});

const record = shape({
  id: str,
  label: optional(str),
  scenario: str,
  params: obj,
  modes: arrayOf(str),
  baseline: str,
  candidate: str,
  repeat: num,
  warmup: num,
  lab: shape({ kind: str, name: str }),
  env: obj,
  startedAt: str,
  finishedAt: str,
  points: arrayOf(point),
  verified: bool,
  error: optional(str),
});

/**
 * Check the shape of a parsed run record: the schema tag, every field a renderer reads, and their types. Returns
 * null when it is usable, else why not (one line, with the path of the first bad field). Unknown extra fields
 * are allowed (records are additive).
 */
export function validateRecord(v: unknown): string | null {
  if (!isObj(v)) return `not a run record (top level is ${typeName(v)}, expected an object)`;
  if (v.schema !== RUN_RECORD_SCHEMA) {
    return v.schema === undefined
      ? `not a run record (no "schema" field; expected "${RUN_RECORD_SCHEMA}")`
      : `not a run record (schema ${JSON.stringify(v.schema)}, expected "${RUN_RECORD_SCHEMA}")`;
  }
  return record(v, '');
}

/** Oldest first: by startedAt (as a time when parseable), then id. */
function compareRecords(a: RunRecord, b: RunRecord): number {
  const ta = Date.parse(a.startedAt);
  const tb = Date.parse(b.startedAt);
  if (!Number.isNaN(ta) && !Number.isNaN(tb) && ta !== tb) return ta - tb;
  if (a.startedAt !== b.startedAt) return a.startedAt < b.startedAt ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * Load every `*.json` directly in `dir` (not recursive). A file that cannot be read, is not JSON, is not a run
 * record (foreign JSON) or is malformed is skipped with a one-line warning naming it; a second file with an id
 * already loaded is skipped too. A missing directory gives no records and no warning.
 */
export async function loadRecords(dir: string): Promise<LoadResult> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { records: [], warnings: [] };
    if (code === 'ENOTDIR') return { records: [], warnings: [`${dir}: not a directory`] };
    return { records: [], warnings: [`${dir}: cannot read directory: ${(err as Error).message}`] };
  }
  const records: RunRecord[] = [];
  const warnings: string[] = [];
  const byId = new Map<string, string>();
  for (const name of names.filter((n) => n.endsWith('.json')).sort()) {
    const file = join(dir, name);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EISDIR') continue; // a directory named *.json is not ours to judge
      warnings.push(`${file}: skipped: cannot read: ${code ?? (err as Error).message}`);
      continue;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      warnings.push(`${file}: skipped: not valid JSON (${(err as Error).message.split('\n')[0]})`);
      continue;
    }
    if (isObj(parsed) && typeof parsed.schema === 'string' && OWN_REPORT_SCHEMAS.test(parsed.schema)) continue;
    const why = validateRecord(parsed);
    if (why) {
      warnings.push(`${file}: skipped: ${why}`);
      continue;
    }
    const rec = parsed as RunRecord;
    const seen = byId.get(rec.id);
    if (seen) {
      warnings.push(`${file}: skipped: duplicate run id ${rec.id} (also in ${seen})`);
      continue;
    }
    byId.set(rec.id, file);
    records.push(rec);
  }
  records.sort(compareRecords);
  return { records, warnings };
}

/** The file name a record is written under. */
function recordFileName(id: string): string {
  if (!id || /[/\\\0]/.test(id) || id === '.' || id === '..') throw new TypeError(`run id ${JSON.stringify(id)} cannot be a file name`);
  return `${id}.json`;
}

/**
 * Write `<dir>/<id>.json` atomically and durably (lab/atomic-write.ts), creating `dir` as needed.
 * Refuses a record that would not load back (TypeError naming the bad field). Returns the path.
 */
export async function writeRecord(dir: string, rec: RunRecord): Promise<string> {
  const why = validateRecord(rec);
  if (why) throw new TypeError(`refusing to write an invalid run record: ${why}`);
  const path = join(dir, recordFileName(rec.id));
  await writeFileAtomic(path, `${JSON.stringify(rec, null, 2)}\n`, { mkdir: true });
  return path;
}

// ---- selection ------------------------------------------------------------------------------------------------

/** The most recent run of each scenario, ordered by scenario name. */
export function latestPerScenario(records: readonly RunRecord[]): RunRecord[] {
  const latest = new Map<string, RunRecord>();
  for (const r of records) {
    const cur = latest.get(r.scenario);
    if (!cur || compareRecords(cur, r) < 0) latest.set(r.scenario, r);
  }
  return [...latest.values()].sort((a, b) => (a.scenario < b.scenario ? -1 : a.scenario > b.scenario ? 1 : 0));
}

/** The `n` most recent runs, oldest first. `n` must be a positive integer (UsageError otherwise). */
export function lastRuns(records: readonly RunRecord[], n: number): RunRecord[] {
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--last must be a positive integer, got ${n}`);
  return [...records].sort(compareRecords).slice(-n);
}

/** Runs of one scenario (exact name), in the given order. */
export function filterScenario(records: readonly RunRecord[], scenario: string): RunRecord[] {
  return records.filter((r) => r.scenario === scenario);
}

/**
 * Find one run by reference: an exact id, else a label (the most recent run carrying it), else a unique id
 * prefix. Unknown or ambiguous → UsageError naming the reference (and, for a prefix, the candidates).
 */
export function findRecord(records: readonly RunRecord[], ref: string, where?: string): RunRecord {
  const exact = records.find((r) => r.id === ref);
  if (exact) return exact;
  const labelled = records.filter((r) => r.label === ref).sort(compareRecords);
  if (labelled.length > 0) return labelled[labelled.length - 1] as RunRecord;
  const prefixed = ref ? records.filter((r) => r.id.startsWith(ref)) : [];
  if (prefixed.length === 1) return prefixed[0] as RunRecord;
  const inDir = where ? ` in ${where}` : '';
  if (prefixed.length > 1) {
    const shown = prefixed.slice(0, 5).map((r) => r.id);
    const more = prefixed.length > 5 ? ` and ${prefixed.length - 5} more` : '';
    throw new UsageError(`run id prefix '${ref}' is ambiguous${inDir}: matches ${shown.join(', ')}${more}`);
  }
  throw new UsageError(`no run with id, id prefix or label '${ref}'${inDir}`);
}
