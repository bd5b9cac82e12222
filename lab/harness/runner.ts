/**
 * Runs a scenario the way a benchmark should: for each parameter point, warm-up repeats then measured ones,
 * with the modes interleaved inside every repeat (A B A B …) so drift hits them alike; every output verified;
 * statistics per mode and per phase. A failure midway keeps the points already measured.
 */
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { InterruptedError, LabError, RunError, UsageError } from '../errors.js';
import { summarize } from '../report/statistics.js';
import { formatParams } from '../report/format.js';
import { RUN_RECORD_SCHEMA } from '../report/run-record.js';
import type { ModeStats, RunPoint, RunRecord, RunSample, Verdict } from '../report/run-record.js';
import type { AnyScenario, ScenarioContext } from '../../scenarios/scenario.js';
import { fingerprint } from './fingerprint.js';
import type { LabSession } from './lab-session.js';
import type { ParsedParams } from './params.js';

export interface Progress {
  point: number;
  points: number;
  params: Record<string, unknown>;
  repeat: number;
  repeats: number;
  warmup: boolean;
  mode: string;
  done: number;
  total: number;
}

export interface RunOptions {
  repeat: number;
  warmup: number;
  timeoutS: number;
  label?: string;
  /** Where the scenario's tasks go (`--queue`); default: the app's default queue (celery). */
  queue?: string;
  signal: AbortSignal;
  onProgress?: (p: Progress) => void;
}

export function newRunId(scenario: string, at = new Date()): string {
  return `${at.toISOString().replace(/[:.]/g, '-')}-${scenario}-${randomBytes(3).toString('hex')}`;
}

function statsFor(samples: RunSample[], modes: string[]): Record<string, ModeStats> {
  const out: Record<string, ModeStats> = {};
  for (const mode of modes) {
    const measured = samples.filter((s) => s.mode === mode && !s.warmup);
    if (measured.length === 0) continue;
    const phases: Record<string, ModeStats['phases'][string]> = {};
    for (const name of Object.keys(measured[0].phases)) phases[name] = summarize(measured.map((s) => s.phases[name] ?? 0));
    out[mode] = { total: summarize(measured.map((s) => s.totalMs)), phases };
  }
  return out;
}

function describeFailure(err: unknown): string {
  if (err instanceof LabError) return err.message;
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/**
 * `session` may still be starting (a promise): the first point's input is prepared while the workers boot.
 * Resolves with the record; throws only if nothing could be measured. A record with `error` set means it stopped early.
 */
export async function runScenario(scenario: AnyScenario, params: ParsedParams, session: Promise<LabSession>, options: RunOptions): Promise<RunRecord> {
  const startedAt = new Date();
  const envP = fingerprint();
  const points: RunPoint[] = [];
  const perPoint = (options.warmup + options.repeat) * scenario.modes.length;
  const total = perPoint * params.points.length;
  let done = 0;
  let error: string | undefined;
  let lab: LabSession | null = null;
  try {
    for (const [pi, p] of params.points.entries()) {
      let fixture: unknown;
      try {
        fixture = await scenario.prepare(p);
      } catch (err) {
        // prepare() rejects parameters that cannot go together (mergesort --n 5 --size 4): a usage error.
        throw err instanceof LabError ? err : new UsageError(`${scenario.name}: ${err instanceof Error ? err.message : String(err)}`);
      }
      lab ??= await session;
      const app = await scenario.app();
      lab.bind(app);
      if (options.queue) app.configFromObject({ task_default_queue: options.queue });
      const ctx: ScenarioContext = { app, lab: lab.info, signal: options.signal, quotesUrl: lab.quotesUrl, timeoutS: options.timeoutS, queue: options.queue ?? app.config.taskDefaultQueue, workers: lab.workers, env: undefined };
      const samples: RunSample[] = [];
      let verdict: Verdict = { ok: true, detail: '' };
      let lastOutput: unknown;
      try {
        if (scenario.setUp) {
          try {
            ctx.env = await scenario.setUp(p, fixture, ctx);
          } catch (err) {
            if (options.signal.aborted) throw new InterruptedError();
            throw new RunError(`${scenario.name} set-up failed (${formatParams(p)}): ${describeFailure(err)}`, { cause: err });
          }
        }
        for (let r = 0; r < options.warmup + options.repeat; r++) {
          for (const mode of scenario.modes) {
            if (options.signal.aborted) throw new InterruptedError();
            options.onProgress?.({ point: pi, points: params.points.length, params: p, repeat: r, repeats: options.warmup + options.repeat, warmup: r < options.warmup, mode, done, total });
            const t0 = performance.now();
            let result;
            try {
              result = await scenario.run(mode, p, fixture, ctx);
            } catch (err) {
              if (options.signal.aborted) throw new InterruptedError();
              throw new RunError(`${scenario.name} ${mode} run failed (${formatParams(p)}): ${describeFailure(err)}`, { cause: err });
            }
            const totalMs = performance.now() - t0;
            const v = scenario.verify(p, fixture, result.output, mode);
            if (!v.ok && verdict.ok) verdict = { ok: false, detail: `${mode}: ${v.detail}` };
            else if (verdict.ok) verdict = v;
            if (mode === scenario.candidate) lastOutput = result.output;
            const sample: RunSample = { mode, repeat: r, warmup: r < options.warmup, totalMs, phases: result.phases };
            if (result.latenciesMs) sample.latenciesMs = result.latenciesMs;
            samples.push(sample);
            done++;
          }
        }
        const stats = statsFor(samples, scenario.modes);
        const concluded = scenario.conclude?.(p, stats);
        if (concluded) verdict = !verdict.ok ? verdict : concluded.ok ? { ok: true, detail: [verdict.detail, concluded.detail].filter(Boolean).join('; ') } : concluded;
      } finally {
        // Whatever the scenario started for this point goes, even when a repeat failed.
        const cleanup = await Promise.allSettled([scenario.tearDown?.(p, fixture, ctx)]);
        await ctx.workers.stopAll();
        const failed = cleanup.find((c): c is PromiseRejectedResult => c.status === 'rejected');
        if (failed && verdict.ok) verdict = { ok: false, detail: `tear-down failed: ${describeFailure(failed.reason)}` };
        // Keep what this point measured, even when it stopped midway.
        if (samples.some((s) => !s.warmup)) {
          const point: RunPoint = { params: p, samples, stats: statsFor(samples, scenario.modes), verify: verdict };
          if (lastOutput !== undefined && scenario.summarize) point.output = scenario.summarize(lastOutput);
          points.push(point);
        }
      }
    }
  } catch (err) {
    if (points.length === 0) throw err;
    error = describeFailure(err);
  }
  const record: RunRecord = {
    schema: RUN_RECORD_SCHEMA,
    id: newRunId(scenario.name, startedAt),
    scenario: scenario.name,
    params: params.given,
    modes: scenario.modes,
    baseline: scenario.baseline,
    candidate: scenario.candidate,
    repeat: options.repeat,
    warmup: options.warmup,
    lab: (await session).info,
    env: await envP,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    points,
    verified: points.length > 0 && points.every((pt) => pt.verify.ok) && !error,
  };
  if (options.label) record.label = options.label;
  if (error) record.error = error;
  return record;
}
