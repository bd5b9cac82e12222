/**
 * A scenario run in this process: parse its parameters, open the lab session (the embedded lab unless told
 * otherwise), run it, close the session, and return the run record. No printing, no signals, no exit codes:
 * the caller (the CLI) aborts through `signal`, renders the record and picks the exit code.
 */
import type { SerializerName } from '../queue/index.js';
import { UsageError } from '../errors.js';
import type { RunRecord } from '../report/run-record.js';
import type { PoolKind } from '../queue/index.js';
import type { AnyScenario } from '../../scenarios/scenario.js';
import { openEmbeddedLab } from './embedded-lab.js';
import type { LabSession } from './lab-session.js';
import { isPeer, planImplementations } from './implementations.js';
import { parseParams } from './params.js';
import { noPeersHere } from './peers.js';
import { runScenario } from './runner.js';
import type { Progress } from './runner.js';

export interface RunHereOptions {
  scenario: AnyScenario;
  /** Scenario parameters as the command line gave them. */
  raw: Record<string, unknown>;
  repeat?: number;
  warmup?: number;
  timeout: number;
  label?: string;
  /** Where the scenario's tasks go (`--queue`); the embedded lab's worker consumes it. */
  queue?: string;
  /** Implementations to compare (`--impl lab,celery`); default lab alone. */
  implementations?: string[];
  pool?: PoolKind;
  concurrency?: number;
  /** --serializer (default json). */
  serializer?: SerializerName;
  /** Open the lab to run on; default: the embedded lab. */
  openLab?: (scenario: AnyScenario) => Promise<LabSession>;
  /** Aborted = stop at the next step, close the session without waiting for running tasks. */
  signal: AbortSignal;
  onProgress?: (p: Progress) => void;
}

function count(name: string, value: number | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min) throw new UsageError(`--${name}: expected an integer ≥ ${min}, got ${String(value)}`);
  return value;
}

/** Resolves with the record (its `error` set when the run stopped early); throws when nothing could be measured. */
export async function runHere(o: RunHereOptions): Promise<RunRecord> {
  const s = o.scenario;
  const params = parseParams(s.params, o.raw);
  const repeat = count('repeat', o.repeat, s.defaults.repeat, 1);
  const warmup = count('warmup', o.warmup, s.defaults.warmup, 0);
  if (!(o.timeout > 0)) throw new UsageError(`--timeout: expected seconds > 0, got ${String(o.timeout)}`);
  if (o.concurrency !== undefined && (!Number.isInteger(o.concurrency) || o.concurrency < 1)) throw new UsageError(`--concurrency: expected an integer ≥ 1, got ${String(o.concurrency)}`);
  // A wrong --impl is said before any lab starts.
  const impls = o.implementations ?? ['lab'];
  planImplementations(s, impls);
  if (!o.openLab && impls.some(isPeer)) throw noPeersHere(impls);

  const session = (o.openLab ?? ((sc) => openEmbeddedLab(sc, { pool: o.pool, concurrency: o.concurrency, queue: o.queue })))(s);
  // If the run fails before it awaits the session, its rejection must not go unhandled.
  session.catch(() => undefined);
  try {
    return await runScenario(s, params, session, { repeat, warmup, timeoutS: o.timeout, label: o.label, queue: o.queue, serializer: o.serializer, implementations: impls, signal: o.signal, onProgress: o.onProgress });
  } finally {
    await session.then(
      (lab) => lab.close({ cold: o.signal.aborted }),
      () => undefined,
    );
  }
}
