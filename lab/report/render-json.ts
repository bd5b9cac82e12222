/**
 * JSON report: a digest of the selected runs — everything but the raw samples (those stay in the run records).
 * `{ schema: "lab.report/1", runs: [...] }`; per point: params, verify, output, speed-up, per-mode statistics.
 * Ratios that are not finite are written as null (JSON has no Infinity).
 */
import type { Comparison } from './compare.js';
import { modeStats, modesOf, speedup } from './derive.js';
import { round6 } from './format.js';
import type { ModeStats, RunRecord } from './run-record.js';
import type { Ratio } from './statistics.js';

const REPORT_SCHEMA = 'lab.report/1';

function ratioJson(r: Ratio | undefined): Record<string, unknown> | null {
  if (!r) return null;
  return {
    ratio: round6(r.ratio),
    low: round6(r.low),
    high: round6(r.high),
    method: r.method,
    ...(r.confidence !== undefined ? { confidence: r.confidence } : {}),
  };
}

function reportJson(records: readonly RunRecord[]): unknown {
  return {
    schema: REPORT_SCHEMA,
    runs: records.map((r) => ({
      id: r.id,
      ...(r.label !== undefined ? { label: r.label } : {}),
      scenario: r.scenario,
      params: r.params,
      modes: modesOf(r),
      baseline: r.baseline,
      candidate: r.candidate,
      repeat: r.repeat,
      warmup: r.warmup,
      lab: r.lab,
      env: r.env,
      startedAt: r.startedAt,
      finishedAt: r.finishedAt,
      verified: r.verified,
      ...(r.error !== undefined ? { error: r.error } : {}),
      points: r.points.map((p) => {
        const stats: Record<string, ModeStats> = {};
        for (const m of modesOf(r)) {
          const s = modeStats(p, m);
          if (s) stats[m] = s;
        }
        return {
          params: p.params,
          verify: p.verify,
          ...(p.output !== undefined ? { output: p.output } : {}),
          speedup: ratioJson(speedup(r, p)),
          stats,
        };
      }),
    })),
  };
}

export function renderJson(records: readonly RunRecord[]): string {
  return `${JSON.stringify(reportJson(records), null, 2)}\n`;
}

export function renderCompareJson(c: Comparison): string {
  const out = { ...c, rows: c.rows.map((row) => ({ ...row, ratio: ratioJson(row.ratio) })) };
  return `${JSON.stringify(out, null, 2)}\n`;
}
