/**
 * What applying or healing a fault does, as data: the ledger records a fault's heal steps BEFORE the fault is
 * applied, so any later lab command can heal it (after a crash of the lab process that applied it), through the
 * provider alone — signals to recorded processes (pid + start time, never a reused pid) and commands on a host.
 */
import type { Provider } from '../providers/provider.js';
import { hasCode } from '../errors.js';
import { FaultError } from './fault.js';

export type FaultStep =
  | {
      op: 'signal';
      host: string;
      signal: NodeJS.Signals;
      /** Each signalled only while its start time still matches (a reused pid is left alone). */
      procs: { pid: number; startTime: number; what: string }[];
      sudo?: boolean;
    }
  | {
      /** Write a file on the host (a link proxy's rule). */
      op: 'write';
      host: string;
      path: string;
      content: string;
      what: string;
    }
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
    if (step.procs.length === 0) return `${step.signal}: no process on ${step.host}`;
    // One command on the host for the whole tree. Not provider.signal: that signals a spawned process's group, and
    // these are a supervisor's children (its group) and their children. Pids and start times travel as arguments.
    const r = await provider.exec(step.host, signalArgv(step.signal, step.procs), step.sudo ? { sudo: true } : {});
    if (r.exitCode !== 0) throw new StepError(`${step.signal} on ${step.host} failed: ${r.stderr.trim().split('\n')[0] ?? `exit code ${r.exitCode}`}`, r.stderr);
    const sent = new Set(r.stdout.split('\n').filter((l) => l.startsWith('sent ')).map((l) => Number(l.slice(5))));
    return step.procs.map((p) => (sent.has(p.pid) ? `${step.signal} ${p.what} (pid ${p.pid})` : `${p.what} (pid ${p.pid}) already gone`)).join(', ') + ` on ${step.host}`;
  }
  if (step.op === 'write') {
    await provider.writeFile(step.host, step.path, step.content, { mode: 0o600 });
    return `${step.what} on ${step.host}`;
  }
  let r;
  try {
    r = await provider.exec(step.host, step.argv, step.sudo ? { sudo: true } : {});
  } catch (err) {
    // a heal step whose command the host lacks: its apply step could not have run there either
    if (step.tolerate && hasCode(err, 'E_COMMAND_NOT_FOUND')) return `${step.what} on ${step.host}: nothing to undo (no ${step.argv[0]} there)`;
    throw err;
  }
  if (r.exitCode !== 0) {
    if (step.tolerate && new RegExp(step.tolerate).test(r.stderr)) return `${step.what} on ${step.host}: already so`;
    throw new StepError(`${step.argv.join(' ')} on ${step.host} failed: ${r.stderr.trim().split('\n')[0] ?? `exit code ${r.exitCode}`}`, r.stderr);
  }
  return `${step.what} on ${step.host}`;
}

/**
 * `sh -c SCRIPT sh SIG pid starttime pid starttime …`: signal each pid whose /proc starttime (field 22, counted
 * after the command name's last ')') still matches; prints "sent <pid>" or "gone <pid>".
 */
export function signalArgv(signal: NodeJS.Signals, procs: readonly { pid: number; startTime: number }[]): string[] {
  const script =
    'sig=$1; shift; while [ $# -gt 1 ]; do p=$1; st=$2; shift 2; ' +
    's=$(sed \'s/.*) //\' /proc/$p/stat 2>/dev/null | cut -d\' \' -f20); ' +
    'if [ -n "$s" ] && [ "$s" = "$st" ] && kill -s "$sig" "$p" 2>/dev/null; then echo "sent $p"; else echo "gone $p"; fi; done';
  return ['sh', '-c', script, 'sh', signal.replace(/^SIG/, ''), ...procs.flatMap((p) => [String(p.pid), String(p.startTime)])];
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
