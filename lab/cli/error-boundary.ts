/**
 * The CLI's one error boundary: every failure becomes one line on stderr and an exit code —
 * 2 for a usage or configuration mistake, 1 for a run that failed, 130 for Ctrl-C. The stack only with --verbose.
 */
import { InterruptedError, LabError } from '../errors.js';

export function exitCodeOf(err: unknown): number {
  if (err instanceof InterruptedError) return 130;
  if (err instanceof LabError) return err.exitCode;
  return 1;
}

export function reportError(err: unknown, verbose: boolean, write: (s: string) => void = (s) => process.stderr.write(s)): number {
  const code = exitCodeOf(err);
  if (err instanceof LabError) {
    write(`lab: ${err.message}\n`);
  } else if (err instanceof Error) {
    write(`lab: internal error: ${err.message}${verbose ? '' : ' (run with --verbose for the stack trace)'}\n`);
  } else {
    write(`lab: ${String(err)}\n`);
  }
  if (verbose && err instanceof Error && err.stack) {
    write(`${err.stack}\n`);
    let cause = err.cause;
    while (cause instanceof Error) {
      write(`caused by: ${cause.stack ?? cause.message}\n`);
      cause = cause.cause;
    }
  }
  return code;
}
