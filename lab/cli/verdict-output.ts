/**
 * `--junit FILE` and `--tap` on `lab run`: the runs' verdicts for CI. The JUnit file's folder is made if missing
 * (checked before anything runs, so a path that cannot be written is one clear error, exit 2, with nothing run);
 * TAP goes to stdout, and the people's summary moves to stderr.
 */
import { mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { writeFileAtomic } from '../atomic-write.js';
import { LabError, UsageError } from '../errors.js';
import { renderJunit } from '../report/junit.js';
import { renderTap } from '../report/tap.js';
import { verdictCases } from '../report/verdicts.js';
import type { VerdictRun } from '../report/verdicts.js';
import type { RunRecord } from '../report/run-record.js';

export interface VerdictFlags {
  junit?: string;
  tap: boolean;
  json: boolean;
}

/** Check the flags and make the JUnit file's folder; returns the absolute path to write (or undefined). */
export async function prepareVerdicts(f: VerdictFlags): Promise<string | undefined> {
  if (f.tap && f.json) throw new UsageError('--tap and --json both write to stdout: pick one');
  if (f.junit === undefined) return undefined;
  if (f.junit.trim() === '') throw new UsageError('--junit: expected a file path, got an empty string');
  const path = resolve(f.junit);
  const st = await stat(path).catch(() => null);
  if (st?.isDirectory()) throw new UsageError(`--junit ${f.junit}: is a directory; give a file path, e.g. ${f.junit.replace(/\/+$/, '')}/junit.xml`);
  try {
    await mkdir(dirname(path), { recursive: true });
  } catch (err) {
    throw new UsageError(`--junit ${f.junit}: cannot create its folder ${dirname(path)} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return path;
}

/** Write the JUnit file and/or the TAP stream for the runs. */
export async function writeVerdicts(runs: readonly VerdictRun[], junitPath: string | undefined, tap: boolean, write: (s: string) => void = (s) => void process.stdout.write(s)): Promise<void> {
  const cases = verdictCases(runs);
  if (tap) write(renderTap(cases));
  if (junitPath !== undefined) {
    await writeFileAtomic(junitPath, renderJunit(cases, { timestamp: new Date().toISOString() })).catch((err: unknown) => {
      throw new UsageError(`--junit ${junitPath}: cannot write (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    });
  }
}

/**
 * Run one scenario with --junit/--tap: the flags checked first, the record collected, the verdicts written after —
 * also when the run threw (its error is the failed case; the error still reaches the boundary). A usage mistake
 * (exit 2) means nothing ran: no verdicts are written for it.
 */
export async function runWithVerdicts(
  scenario: string,
  f: VerdictFlags,
  run: (extra: { onRecord?: (r: RunRecord) => void; summary?: 'stderr' }) => Promise<number>,
): Promise<number> {
  if (f.junit === undefined && !f.tap) return run({});
  const junit = await prepareVerdicts(f);
  const runs: VerdictRun[] = [];
  let code: number;
  try {
    code = await run({ onRecord: (record) => runs.push({ scenario, record }), ...(f.tap ? { summary: 'stderr' as const } : {}) });
  } catch (err) {
    if (err instanceof LabError && err.exitCode === 2) throw err;
    await writeVerdicts([...runs, { scenario, error: err instanceof Error ? err.message : String(err) }], junit, f.tap);
    throw err;
  }
  if (runs.length === 0) runs.push({ scenario, error: code === 130 ? 'stopped' : 'the run failed before it recorded anything (its error is above)' });
  await writeVerdicts(runs, junit, f.tap);
  return code;
}
