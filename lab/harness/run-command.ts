/**
 * `lab run`: parse the scenario's parameters, open the lab (the embedded one unless a lab is up), run, write the
 * run record, print. Ctrl-C stops the workers and exits promptly; a second Ctrl-C exits at once.
 */
import { InterruptedError, UsageError } from '../errors.js';
import { writeRecord } from '../report/records.js';
import { formatParams } from '../report/format.js';
import type { RunRecord } from '../report/run-record.js';
import type { PoolKind } from '../queue/index.js';
import type { AnyScenario } from '../../scenarios/scenario.js';
import { progressLine } from '../cli/progress.js';
import { renderRunSummary } from '../cli/run-output.js';
import { openEmbeddedLab } from './embedded-lab.js';
import type { LabSession } from './lab-session.js';
import { parseParams } from './params.js';
import { runScenario } from './runner.js';

export interface RunCommandOptions {
  scenario: AnyScenario;
  /** Scenario parameters as the command line gave them. */
  raw: Record<string, unknown>;
  repeat?: number;
  warmup?: number;
  timeout: number;
  label?: string;
  reportsDir: string;
  json: boolean;
  pool?: PoolKind;
  concurrency?: number;
  /** Open the lab to run on; default: the embedded lab. */
  openLab?: (scenario: AnyScenario) => Promise<LabSession>;
  write?: (s: string) => void;
}

function count(name: string, value: number | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min) throw new UsageError(`--${name}: expected an integer ≥ ${min}, got ${String(value)}`);
  return value;
}

export async function runCommand(o: RunCommandOptions): Promise<number> {
  const write = o.write ?? ((s: string) => process.stdout.write(s));
  const s = o.scenario;
  const params = parseParams(s.params, o.raw);
  const repeat = count('repeat', o.repeat, s.defaults.repeat, 1);
  const warmup = count('warmup', o.warmup, s.defaults.warmup, 0);
  if (!(o.timeout > 0)) throw new UsageError(`--timeout: expected seconds > 0, got ${String(o.timeout)}`);
  if (o.concurrency !== undefined && (!Number.isInteger(o.concurrency) || o.concurrency < 1)) throw new UsageError(`--concurrency: expected an integer ≥ 1, got ${String(o.concurrency)}`);

  const progress = progressLine(!o.json);
  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = (): void => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    progress.note('lab: stopping (Ctrl-C again to quit at once)…');
    controller.abort(new InterruptedError());
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);

  const session = (o.openLab ?? ((sc) => openEmbeddedLab(sc, { pool: o.pool, concurrency: o.concurrency })))(s);
  // If the run fails before it awaits the session, its rejection must not go unhandled.
  session.catch(() => undefined);
  let record: RunRecord;
  try {
    record = await runScenario(s, params, session, {
      repeat,
      warmup,
      timeoutS: o.timeout,
      label: o.label,
      signal: controller.signal,
      onProgress: (p) => {
        const where = p.points > 1 ? `point ${p.point + 1}/${p.points} (${formatParams(p.params)}) ` : '';
        progress.update(p.done, p.total, `${s.name} ${where}${p.warmup ? 'warm-up' : 'repeat'} ${p.repeat + 1}/${p.repeats} ${p.mode}`);
      },
    });
  } finally {
    progress.clear();
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
    await session.then(
      (lab) => lab.close({ cold: controller.signal.aborted }),
      () => undefined,
    );
  }
  const path = await writeRecord(o.reportsDir, record);
  if (o.json) {
    write(`${JSON.stringify(record, null, 2)}\n`);
  } else {
    const describe = s.describe;
    const lines = describe ? record.points.flatMap((p) => (p.output === undefined ? [] : describe(p.output))) : [];
    write(renderRunSummary(record, lines));
    write(`run record: ${path}\n`);
  }
  if (record.error) return controller.signal.aborted ? 130 : 1;
  return record.verified ? 0 : 1;
}
