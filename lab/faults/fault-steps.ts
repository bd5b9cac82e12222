/**
 * What applying or healing a fault does, as data: the ledger records a fault's heal steps BEFORE the fault is
 * applied, so any later lab command can heal it (after a crash of the lab process that applied it), through the
 * provider alone — signals to recorded processes (pid + start time, never a reused pid) and commands on a host.
 */
import type { Provider } from '../providers/provider.js';
import { FaultError } from './fault.js';

export type FaultStep =
  | { op: 'signal'; host: string; pid: number; startTime: number; signal: NodeJS.Signals; what: string }
  | {
      op: 'exec';
      host: string;
      argv: string[];
      /** ssh: through sudo. */
      sudo?: boolean;
      /** A regex of stderr that means "already so" (a rule not there to delete). */
      tolerate?: string;
      what: string;
    };

/** Run one step. Returns what it did in words; throws with the host's stderr when a command failed. */
export async function runStep(provider: Provider, step: FaultStep): Promise<string> {
  if (step.op === 'signal') {
    const found = await provider.signal({ key: `fault:${step.pid}`, host: step.host, pid: step.pid, startTime: step.startTime, logFile: '', command: [] }, step.signal);
    return found === 'same' ? `${step.signal} ${step.what} (pid ${step.pid}) on ${step.host}` : `${step.what} (pid ${step.pid}) on ${step.host} was ${found}`;
  }
  const r = await provider.exec(step.host, step.argv, step.sudo ? { sudo: true } : {});
  if (r.exitCode !== 0) {
    if (step.tolerate && new RegExp(step.tolerate).test(r.stderr)) return `${step.what} on ${step.host}: already so`;
    throw new StepError(`${step.argv.join(' ')} on ${step.host} failed: ${r.stderr.trim().split('\n')[0] ?? `exit code ${r.exitCode}`}`, r.stderr);
  }
  return `${step.what} on ${step.host}`;
}

/** A step's command failed; `stderr` lets the caller tell "no netem here" from other failures. */
export class StepError extends FaultError {
  constructor(
    message: string,
    readonly stderr: string,
  ) {
    super('E_FAULT', message);
  }
}
