/**
 * What `lab run <scenario>` does once its flags are parsed: run on the lab that is up (the driver on its master
 * host) or here (the embedded lab, or inside a lab with --in-lab), then write the run record, print it and pick
 * the exit code. Ctrl-C stops the run and cleans up; a second Ctrl-C exits at once.
 */
import type { SerializerName } from '../queue/index.js';
import { UsageError } from '../errors.js';
import { QUEUE_PATTERN } from '../topology/patterns.js';
import type { PoolKind } from '../queue/index.js';
import { writeRecord } from '../report/records.js';
import { formatParams } from '../report/format.js';
import type { RunRecord } from '../report/run-record.js';
import type { AnyScenario } from '../../scenarios/scenario.js';
import type { LabSession } from '../harness/lab-session.js';
import { interruptible } from './interrupt.js';
import { progressLine } from './progress.js';
import { printRunRecord, runExitCode } from './run-output.js';

export interface RunScenarioArgs {
  scenario: AnyScenario;
  raw: Record<string, unknown>;
  hosts?: string;
  embedded: boolean;
  inLab?: string;
  repeat?: number;
  warmup?: number;
  timeout: number;
  label?: string;
  /** Where the scenario's tasks go (default: celery). */
  queue?: string;
  /** `--impl lab,celery,rq,pyro` as given (default: lab). */
  impl?: string;
  pool?: PoolKind;
  concurrency?: number;
  /** --serializer: the scenario's task bodies (and the embedded worker's results). */
  serializer?: SerializerName;
  reports: string;
  json: boolean;
  /** Told each record as it is written (--junit, --tap, lab run smoke). */
  onRecord?: (record: RunRecord) => void;
  /** 'stderr': the people's summary goes to stderr (stdout carries TAP); 'none': not printed (lab run smoke). */
  summary?: 'stdout' | 'stderr' | 'none';
  /** `--faults SCHEDULE` as given (a file or inline). */
  faults?: string;
  /** The nemesis running beside this run (set here when --faults is given). */
  nemesis?: import('../faults/run-nemesis.js').RunNemesis;
}

/**
 * The provisioned lab `lab run` uses — the one --hosts names, else the active lab — checked up and ready; null
 * when the run stays in this process (the embedded lab: no lab is up, or --embedded, or inside a lab).
 */
export async function labToRunOn(a: { hosts?: string; embedded: boolean; inLab?: string; pool?: PoolKind; concurrency?: number }): Promise<{ name: string; dir: string } | null> {
  if (a.inLab || a.embedded) return null;
  const { findLab } = await import('../orchestrator/lab-ref.js');
  const { readState } = await import('../topology/state.js');
  const ref = await findLab(a.hosts);
  const state = ref ? await readState(ref.dir) : null;
  if (a.hosts && !state) throw new UsageError(`lab ${ref?.name ?? a.hosts} is not up: bring it up with lab up --hosts ${a.hosts} (or leave out --hosts for the embedded lab)`);
  if (!ref || !state) return null;
  if (state.status !== 'up') throw new UsageError(`lab ${ref.name} is not ready (state: ${state.status}): run lab up again, or lab down — or use --embedded`);
  if (a.pool || a.concurrency) throw new UsageError("--pool and --concurrency are for the embedded lab; a lab's workers are set in its inventory");
  return ref;
}

export async function runScenarioCommand(a: RunScenarioArgs): Promise<number> {
  if (a.queue !== undefined && !new RegExp(QUEUE_PATTERN).test(a.queue)) throw new UsageError(`--queue: ${JSON.stringify(a.queue)} is not a queue name (letters, digits, _ . : -)`);
  const { isPeer, parseImplementations, planImplementations } = await import('../harness/implementations.js');
  const impls = a.impl === undefined ? ['lab'] : parseImplementations(a.impl);
  planImplementations(a.scenario, impls);
  const schedule = a.faults !== undefined && !a.inLab ? await (await import('../faults/run-nemesis.js')).loadSchedule(a.faults) : null;
  const ref = await labToRunOn(a);
  if (schedule && !ref) throw new UsageError('--faults needs a lab that is up (lab up --hosts FILE): the embedded lab has no hosts or services to break');
  if (schedule && ref) {
    const { startRunNemesis } = await import('../faults/run-nemesis.js');
    a.nemesis = await startRunNemesis(ref, schedule, (line) => void process.stderr.write(`lab: ${line}\n`));
    try {
      return await runOn(a, ref, impls, isPeer);
    } finally {
      // healed whatever happened (an error, Ctrl-C); a no-op when save() finished it
      await a.nemesis.finish();
    }
  }
  if (ref) {
    const { healOpenLab } = await import('../faults/leftovers.js');
    const { openLab } = await import('../orchestrator/lab-ref.js');
    const lab = await openLab(ref);
    try {
      for (const line of (await healOpenLab(lab)).lines) process.stderr.write(`lab: ${line}\n`);
    } finally {
      await lab.provider.close();
    }
  }
  return runOn(a, ref, impls, isPeer);
}

async function runOn(a: RunScenarioArgs, ref: { name: string; dir: string } | null, impls: string[], isPeer: (impl: string) => boolean): Promise<number> {
  if (impls.some(isPeer) && !a.inLab) {
    if (!ref) throw (await import('../harness/peers.js')).noPeersHere(impls);
    return runPeersOnTheLab(a, ref, impls);
  }
  // A scenario that starts its own workers runs its driver here, where the provider is; so does one that says so
  // (a user's scenario module: it stays on this machine with what it imports).
  if (ref) return a.scenario.needs?.workerGroups || a.scenario.driver === 'controller' ? runFromController(a, ref) : runOnTheLab(a, ref);
  return runInThisProcess(a);
}

async function runOnTheLab(a: RunScenarioArgs, ref: { name: string; dir: string }): Promise<number> {
  const [{ openLab }, { runOnLab }] = await Promise.all([import('../orchestrator/lab-ref.js'), import('../harness/run-on-lab.js')]);
  const lab = await openLab(ref);
  const stop = interruptible();
  let result;
  try {
    const passThrough: string[] = [];
    for (const k of ['repeat', 'warmup', 'timeout', 'label', 'queue', 'serializer'] as const) if (a[k] !== undefined) passThrough.push(`--${k}`, String(a[k]));
    result = await runOnLab({ lab, scenario: a.scenario, raw: a.raw, passThrough, signal: stop.signal, stderr: process.stderr });
  } finally {
    stop.dispose();
    await lab.provider.close();
  }
  // No record: the remote run's error is on stderr already.
  if (result.record) await save(a, result.record);
  return result.exitCode;
}

/** Peer implementations on a provisioned lab: the controller starts their workers, the run goes on the master host. */
async function runPeersOnTheLab(a: RunScenarioArgs, ref: { name: string; dir: string }, impls: string[]): Promise<number> {
  const [{ openLab }, { runPeersOnLab }] = await Promise.all([import('../orchestrator/lab-ref.js'), import('../harness/peers-on-lab.js')]);
  const lab = await openLab(ref);
  const stop = interruptible();
  let result;
  try {
    const passThrough: string[] = ['--impl', impls.join(',')];
    for (const k of ['repeat', 'warmup', 'timeout', 'label', 'queue', 'serializer'] as const) if (a[k] !== undefined) passThrough.push(`--${k}`, String(a[k]));
    result = await runPeersOnLab({
      lab,
      scenario: a.scenario,
      raw: a.raw,
      passThrough,
      implementations: impls,
      signal: stop.signal,
      stderr: process.stderr,
      onStep: a.json ? undefined : (text) => process.stderr.write(`lab: ${text}\n`),
    });
  } finally {
    stop.dispose();
    await lab.provider.close();
  }
  if (result.record) await save(a, result.record);
  return result.exitCode;
}

async function runFromController(a: RunScenarioArgs, ref: { name: string; dir: string }): Promise<number> {
  const [{ openLab }, { openControllerSession }] = await Promise.all([import('../orchestrator/lab-ref.js'), import('../harness/controller-session.js')]);
  const lab = await openLab(ref);
  try {
    return await runInThisProcess(a, () => openControllerSession(lab));
  } finally {
    await lab.provider.close();
  }
}

async function runInThisProcess(a: RunScenarioArgs, open?: () => Promise<LabSession>): Promise<number> {
  const [{ runHere }, { decodeDescriptor, openInLabSession }] = await Promise.all([import('../harness/run-here.js'), import('../harness/in-lab-session.js')]);
  const inLab = a.inLab;
  const progress = progressLine(!a.json);
  const stop = interruptible(() => progress.note('lab: stopping (Ctrl-C again to quit at once)…'));
  let record: RunRecord;
  try {
    record = await runHere({
      scenario: a.scenario,
      raw: a.raw,
      repeat: a.repeat,
      warmup: a.warmup,
      timeout: a.timeout,
      label: a.label,
      pool: a.pool,
      concurrency: a.concurrency,
      queue: a.queue,
      serializer: a.serializer,
      implementations: a.impl === undefined ? undefined : (await import('../harness/implementations.js')).parseImplementations(a.impl),
      openLab: open ?? (inLab ? async () => openInLabSession(decodeDescriptor(inLab)) : undefined),
      signal: stop.signal,
      onProgress: (p) => {
        const where = p.points > 1 ? `point ${p.point + 1}/${p.points} (${formatParams(p.params)}) ` : '';
        progress.update(p.done, p.total, `${a.scenario.name} ${where}${p.warmup ? 'warm-up' : 'repeat'} ${p.repeat + 1}/${p.repeats} ${p.mode}`);
      },
    });
  } finally {
    progress.clear();
    stop.dispose();
  }
  await save(a, record);
  return runExitCode(record, stop.signal.aborted);
}

async function save(a: RunScenarioArgs, record: RunRecord): Promise<void> {
  if (a.nemesis) {
    const { withFaults } = await import('../faults/run-nemesis.js');
    record = withFaults(record, await a.nemesis.finish(record));
  }
  const path = await writeRecord(a.reports, record);
  a.onRecord?.(record);
  if (a.summary === 'none') return;
  printRunRecord(record, a.scenario, path, a.json, a.summary === 'stderr' ? (s) => void process.stderr.write(s) : undefined);
}
