/** Progress of `lab up` / `lab down` on stderr: one line per host and step as it starts, finishes or is skipped. */
import { performance } from 'node:perf_hooks';
import type { Progress, ProgressEvent } from '../providers/provider.js';

export function stepPrinter(enabled: boolean, verbose: boolean, write: (s: string) => void = (s) => process.stderr.write(s)): Progress {
  const t0 = performance.now();
  const started = new Map<string, number>();
  return (e: ProgressEvent) => {
    if (!enabled) return;
    const key = `${e.host ?? ''}|${e.step}`;
    const at = `${((performance.now() - t0) / 1000).toFixed(1).padStart(5)}s`;
    const where = (e.host ?? 'lab').padEnd(8);
    if (e.status === 'start') {
      started.set(key, performance.now());
      if (verbose) write(`${at}  ${where} ${e.step} …${e.detail ? ` ${e.detail}` : ''}\n`);
      return;
    }
    const inFlight = started.has(key);
    const took = inFlight ? ` (${((performance.now() - (started.get(key) as number)) / 1000).toFixed(1)}s)` : '';
    if (e.status !== 'info') started.delete(key);
    const mark = e.status === 'done' ? '✓' : e.status === 'skip' ? '=' : e.status === 'fail' ? '✗' : '·';
    // What was already there, and checks that passed, are only worth a line with --verbose; progress of a step
    // still running (an image being pulled) is always shown.
    if (!verbose && (e.status === 'skip' || (e.status === 'info' && !inFlight && !e.warning))) return;
    write(`${at}  ${where} ${mark} ${e.step}${e.detail ? `: ${e.detail}` : ''}${e.status === 'done' ? took : ''}\n`);
  };
}
