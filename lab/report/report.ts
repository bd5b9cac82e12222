/**
 * `lab report`: load the run records of a directory, select, render in one format, optionally write a file.
 *
 * Selection: `compare` → the two runs named (id, label or unique id prefix; see records.findRecord), looked up
 * among the runs of `scenario` when given; otherwise `last` → the N most recent runs (of `scenario` when given),
 * else the latest run of each scenario (of `scenario` when given).
 *
 * Output: the rendered text is returned in `output`. When a file is written — `out` given, or format html
 * without `out` (default file `<dir>/report.html`, or `<dir>/compare.html` for a comparison) — `output` is instead a
 * one-line "report written to <path>" and `outPath` is the path. `out: '-'` forces the text into `output` (html to
 * stdout). An empty or missing directory is not an error: `output` says so and how to make a run.
 * Usage mistakes (unknown format, bad --last, unknown run in --compare) throw UsageError (exit code 2).
 */
import { join } from 'node:path';
import { writeFileAtomic } from '../atomic-write.js';
import { UsageError } from '../errors.js';
import { compareRuns, type Comparison } from './compare.js';
import { REPORT_FORMATS, type ReportFormat } from './formats.js';
import { filterScenario, findRecord, lastRuns, latestPerScenario, loadRecords } from './records.js';
import { renderCompareCsv, renderCsv } from './render-csv.js';
import { renderCompareHtml, renderHtml } from './render-html.js';
import { renderCompareJson, renderJson } from './render-json.js';
import { renderCompareMarkdown, renderMarkdown } from './render-md.js';
import { renderCompareTable, renderTable } from './render-table.js';
import type { RunRecord } from './run-record.js';

export interface ReportOptions {
  dir: string;
  format: ReportFormat;
  last?: number;
  scenario?: string;
  compare?: [string, string];
  out?: string;
}

export interface ReportResult {
  output: string;
  warnings: string[];
  outPath?: string;
}

const RENDER: Record<ReportFormat, (records: readonly RunRecord[]) => string> = {
  table: renderTable,
  json: renderJson,
  csv: renderCsv,
  md: renderMarkdown,
  html: renderHtml,
};

const RENDER_COMPARE: Record<ReportFormat, (c: Comparison) => string> = {
  table: renderCompareTable,
  json: renderCompareJson,
  csv: renderCompareCsv,
  md: renderCompareMarkdown,
  html: renderCompareHtml,
};

/** The message for a directory without runs (to stdout, not an error). */
function noRunsMessage(dir: string, scenario?: string): string {
  return scenario
    ? `no runs of ${scenario} in ${dir}; run \`lab run ${scenario}\` first`
    : `no runs in ${dir}; run \`lab run mergesort --n 4\` first`;
}

export async function runReport(opts: ReportOptions): Promise<ReportResult> {
  if (!(REPORT_FORMATS as readonly string[]).includes(opts.format)) {
    throw new UsageError(`unknown report format '${String(opts.format)}' (expected one of ${REPORT_FORMATS.join(', ')})`);
  }
  if (opts.last !== undefined && (!Number.isInteger(opts.last) || opts.last < 1)) {
    throw new UsageError(`--last must be a positive integer, got ${opts.last}`);
  }
  if (opts.compare && opts.compare.length !== 2) throw new UsageError('--compare takes two runs: <A> <B>');

  const { records, warnings } = await loadRecords(opts.dir);
  const pool = opts.scenario !== undefined ? filterScenario(records, opts.scenario) : records;

  let text: string;
  let defaultFile: string;
  if (opts.compare) {
    const where = opts.scenario !== undefined ? `${opts.dir} (scenario ${opts.scenario})` : opts.dir;
    const a = findRecord(pool, opts.compare[0], where);
    const b = findRecord(pool, opts.compare[1], where);
    text = RENDER_COMPARE[opts.format](compareRuns(a, b));
    defaultFile = 'compare.html';
  } else {
    if (pool.length === 0) {
      const present = [...new Set(records.map((r) => r.scenario))].sort();
      const msg = noRunsMessage(opts.dir, opts.scenario);
      return { output: present.length > 0 ? `${msg} (runs present: ${present.join(', ')})\n` : `${msg}\n`, warnings };
    }
    const selected = opts.last !== undefined ? lastRuns(pool, opts.last) : latestPerScenario(pool);
    text = RENDER[opts.format](selected);
    defaultFile = 'report.html';
  }

  if (opts.out === '-') return { output: text, warnings };
  const outPath = opts.out ?? (opts.format === 'html' ? join(opts.dir, defaultFile) : undefined);
  if (outPath === undefined) return { output: text, warnings };
  await writeFileAtomic(outPath, text, { mkdir: true });
  return { output: `report written to ${outPath}\n`, warnings, outPath };
}
