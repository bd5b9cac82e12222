import { performance } from 'node:perf_hooks';

/** Times named phases of one execution: `const t = phaseTimer(); …; t.mark('split'); …; t.mark('merge')`. */
export function phaseTimer(): { mark(phase: string): void; phases: Record<string, number>; total(): number } {
  const start = performance.now();
  let last = start;
  const phases: Record<string, number> = {};
  return {
    phases,
    mark(phase: string) {
      const now = performance.now();
      phases[phase] = (phases[phase] ?? 0) + (now - last);
      last = now;
    },
    total: () => performance.now() - start,
  };
}
