/**
 * Runs a scenario the way a benchmark should: for each parameter point, warm-up repeats then measured ones,
 * with the modes interleaved inside every repeat (A B A B …) so drift hits them alike; every output verified;
 * statistics per mode and per phase. A failure midway keeps the points already measured.
 *
 * With several implementations (`implementations: ['lab', 'celery', 'rq']`) every repeat runs implementation ×
 * mode in that order — lab's modes through the scenario's run(), a peer's through its long-lived driver (peers.ts),
 * fed the same parameters (the drivers regenerate the same fixture from the seed) — and every output goes through
 * the scenario's own verify(). Figures are keyed by mode key ("distributed", "celery/distributed").
 */
import type { SerializerName } from '../queue/index.js';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { InterruptedError, LabError, RunError, UsageError } from '../errors.js';
import { summarize } from '../report/statistics.js';
import { formatParams } from '../report/format.js';
import { LAB_IMPLEMENTATION, RUN_RECORD_SCHEMA } from '../report/run-record.js';
import type { ModeStats, RunPoint, RunRecord, RunSample, Verdict } from '../report/run-record.js';
import type { AnyScenario, ScenarioContext } from '../../scenarios/scenario.js';
import { fingerprint } from './fingerprint.js';
import { isPeer, planImplementations } from './implementations.js';
import type { PeerName } from './implementations.js';
import type { LabSession } from './lab-session.js';
import type { ParsedParams } from './params.js';
import { noPeersHere, PeerRun } from './peers.js';

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
  /** Implementations to run, in this order within each repeat (default: lab, the bundled runtime, alone). */
  implementations?: string[];
  /**
   * The scenario app's task_serializer and result_serializer (`--serializer`). The embedded lab's worker shares that
   * app, so its results follow; a provisioned lab's workers accept msgpack and store results as their config says.
   */
  serializer?: SerializerName;
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
  const plan = planImplementations(scenario, options.implementations ?? [LAB_IMPLEMENTATION]);
  const withLab = plan.some((i) => i.name === LAB_IMPLEMENTATION);
  const peerNames = plan.map((i) => i.name).filter(isPeer);
  const slots = plan.flatMap((i) => i.modes.map((m) => ({ impl: i.name, ...m })));
  const keys = slots.map((x) => x.key);
  const baseline = withLab ? scenario.baseline : plan[0]!.baseline;
  const candidate = withLab ? scenario.candidate : plan[0]!.candidate;
  const points: RunPoint[] = [];
  const perPoint = (options.warmup + options.repeat) * slots.length;
  const total = perPoint * params.points.length;
  let done = 0;
  let error: string | undefined;
  let lab: LabSession | null = null;
  let peers: PeerRun | null = null;
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
      if (peerNames.length > 0 && !peers) {
        if (!lab.peers) throw noPeersHere(plan.map((i) => i.name));
        peers = await PeerRun.open(lab.peers, peerNames, { timeoutS: options.timeoutS, signal: options.signal });
      }
      const app = await scenario.app();
      lab.bind(app);
      if (options.queue) app.configFromObject({ task_default_queue: options.queue });
      if (options.serializer) app.configFromObject({ task_serializer: options.serializer, result_serializer: options.serializer });
      const ctx: ScenarioContext = { app, lab: lab.info, signal: options.signal, quotesUrl: lab.quotesUrl, timeoutS: options.timeoutS, queue: options.queue ?? app.config.taskDefaultQueue, workers: lab.workers, env: undefined, ...(lab.files ? { files: lab.files } : {}) };
      const samples: RunSample[] = [];
      let verdict: Verdict = { ok: true, detail: '' };
      let lastOutput: unknown;
      try {
        // setUp prepares the bundled runtime's modes (mergesort's threads): not needed when lab does not run.
        if (scenario.setUp && withLab) {
          try {
            ctx.env = await scenario.setUp(p, fixture, ctx);
          } catch (err) {
            if (options.signal.aborted) throw new InterruptedError();
            throw new RunError(`${scenario.name} set-up failed (${formatParams(p)}): ${describeFailure(err)}`, { cause: err });
          }
        }
        for (let r = 0; r < options.warmup + options.repeat; r++) {
          for (const slot of slots) {
            const { impl, mode, key } = slot;
            if (options.signal.aborted) throw new InterruptedError();
            options.onProgress?.({ point: pi, points: params.points.length, params: p, repeat: r, repeats: options.warmup + options.repeat, warmup: r < options.warmup, mode: key, done, total });
            const t0 = performance.now();
            let result;
            let totalMs: number;
            try {
              if (impl === LAB_IMPLEMENTATION) {
                result = await scenario.run(mode, p, fixture, ctx);
                totalMs = performance.now() - t0;
              } else {
                // A peer's time is its driver's own clock around the work (no interpreter start-up, no pipe).
                result = await peers!.sample(impl as PeerName, scenario.name, mode, p, options.timeoutS, options.signal);
                totalMs = result.totalMs;
              }
            } catch (err) {
              if (options.signal.aborted) throw new InterruptedError();
              throw new RunError(`${scenario.name} ${key} run failed (${formatParams(p)}): ${describeFailure(err)}`, { cause: err });
            }
            const v = scenario.verify(p, fixture, result.output, mode);
            if (!v.ok && verdict.ok) verdict = { ok: false, detail: `${key}: ${v.detail}` };
            else if (verdict.ok) verdict = v;
            if (key === candidate) lastOutput = result.output;
            const sample: RunSample = { mode: key, repeat: r, warmup: r < options.warmup, totalMs, phases: result.phases };
            if (result.latenciesMs) sample.latenciesMs = result.latenciesMs;
            samples.push(sample);
            done++;
          }
        }
        const stats = statsFor(samples, keys);
        const concluded = withLab ? scenario.conclude?.(p, stats) : undefined;
        if (concluded) verdict = !verdict.ok ? verdict : concluded.ok ? { ok: true, detail: [verdict.detail, concluded.detail].filter(Boolean).join('; ') } : concluded;
      } finally {
        // Whatever the scenario started for this point goes, even when a repeat failed.
        const cleanup = await Promise.allSettled([withLab ? scenario.tearDown?.(p, fixture, ctx) : undefined]);
        await ctx.workers.stopAll();
        const failed = cleanup.find((c): c is PromiseRejectedResult => c.status === 'rejected');
        if (failed && verdict.ok) verdict = { ok: false, detail: `tear-down failed: ${describeFailure(failed.reason)}` };
        // Keep what this point measured, even when it stopped midway.
        if (samples.some((s) => !s.warmup)) {
          const point: RunPoint = { params: p, samples, stats: statsFor(samples, keys), verify: verdict };
          if (lastOutput !== undefined && scenario.summarize) point.output = scenario.summarize(lastOutput);
          points.push(point);
        }
      }
    }
  } catch (err) {
    if (points.length === 0) {
      await peers?.close();
      throw err;
    }
    error = describeFailure(err);
  }
  await peers?.close();
  const env = await envP;
  const serializer = options.serializer ?? 'json';
  const record: RunRecord = {
    schema: RUN_RECORD_SCHEMA,
    id: newRunId(scenario.name, startedAt),
    scenario: scenario.name,
    params: params.given,
    modes: keys,
    baseline,
    candidate,
    repeat: options.repeat,
    warmup: options.warmup,
    lab: { ...(await session).info, serializer },
    env: { ...(peers ? { ...env, peers: peers.versions() } : env), serializer },
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    points,
    verified: points.length > 0 && points.every((pt) => pt.verify.ok) && !error,
  };
  if (options.label) record.label = options.label;
  if (error) record.error = error;
  // A run of the bundled runtime alone keeps the record it always had.
  if (plan.length > 1 || plan[0]!.name !== LAB_IMPLEMENTATION) {
    record.implementations = plan.map((i) => (isPeer(i.name) && peers ? peers.describe(i) : { name: i.name, modes: i.modes.map((m) => m.key), serializer }));
  }
  return record;
}
