/**
 * JSON report: a digest of the selected runs — everything but the raw samples (those stay in the run records).
 * `{ schema: "lab.report/1", runs: [...] }`; per point: params, verify, output, speed-up, per-mode statistics; a run
 * that compared implementations also has its `implementations` and, per point, `vsLab` (mode key → {against,
 * ratio, low, high, method}: the peer's median time / lab's in the mode it is compared with).
 * Ratios that are not finite are written as null (JSON has no Infinity).
 */
import type { Comparison } from './compare.js';
import { hasImplementations, modeStats, modesOf, speedup, vsLab } from './derive.js';
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

/** Mode key → its time relative to lab's mode it is compared with (median / lab's median), for peers' modes. */
function vsLabJson(r: RunRecord, p: RunRecord['points'][number]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const m of modesOf(r)) {
    const v = vsLab(r, p, m);
    if (v) out[m] = { against: v.against, ...ratioJson(v.ratio) };
  }
  return out;
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
      ...(r.implementations !== undefined ? { implementations: r.implementations } : {}),
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
          ...(hasImplementations(r) ? { vsLab: vsLabJson(r, p) } : {}),
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
