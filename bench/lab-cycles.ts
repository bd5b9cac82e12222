/**
 * What the lab benchmarks share (bench/docker-lab, bench/images): the lab command run as a user runs it, timed, and
 * the cycle they measure — up cold, up again (must change nothing), down — then mergesort on a lab that is up.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { formatMs } from '../lab/report/format.js';
import type { RunRecord } from '../lab/report/run-record.js';
import { summarize } from '../lab/report/statistics.js';

const BIN = fileURLToPath(new URL('../../bin/lab.js', import.meta.url));

export interface Ran {
  ms: number;
  stdout: string;
  stderr: string;
  code: number | null;
}

export type LabCommand = (args: string[]) => Ran;

/** `lab …` in `home` (its LAB_HOME), with extra environment. */
export function labCommand(home: string, env: Record<string, string> = {}): LabCommand {
  return (args) => {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [BIN, ...args], { cwd: home, encoding: 'utf8', env: { ...process.env, LAB_HOME: home, ...env }, maxBuffer: 256 * 1024 * 1024 });
    return { ms: performance.now() - t0, stdout: r.stdout, stderr: r.stderr, code: r.status };
  };
}

export function must(r: Ran, what: string): Ran {
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}): ${r.stderr}${r.stdout}`);
  return r;
}

export const med = (xs: number[]): string => {
  const s = summarize(xs);
  return `median ${formatMs(s.median)} (min ${formatMs(s.min)}, max ${formatMs(s.max)}, n=${s.n})`;
};

export interface LabFigures {
  up: number[];
  reup: number[];
  down: number[];
  mergesort: RunRecord;
}

/** `cycles` × (up cold, up again, down), then one more up for mergesort n=4 (`repeat` repeats), then down. */
export function measureLab(lab: LabCommand, o: { kind: string; inventory: string; name: string; cycles: number; repeat: number; reports: string }): LabFigures {
  const { kind, inventory, name } = o;
  const f: Omit<LabFigures, 'mergesort'> = { up: [], reup: [], down: [] };
  for (let i = 0; i < o.cycles; i++) {
    f.up.push(must(lab(['up', '--hosts', inventory]), `${kind} lab up`).ms);
    const again = must(lab(['up', '--hosts', inventory, '--json']), `${kind} lab up (again)`);
    if ((JSON.parse(again.stdout) as { changed: boolean }).changed) throw new Error(`${kind}: a second lab up changed something`);
    f.reup.push(again.ms);
    f.down.push(must(lab(['down', '--lab', name]), `${kind} lab down`).ms);
  }
  must(lab(['up', '--hosts', inventory]), `${kind} lab up`);
  try {
    const rec = JSON.parse(must(lab(['run', 'mergesort', '--n', '4', '--repeat', String(o.repeat), '--warmup', '2', '--json', '--reports', join(o.reports)]), `${kind} lab run mergesort`).stdout) as RunRecord;
    return { ...f, mergesort: rec };
  } finally {
    must(lab(['down', '--lab', name]), `${kind} lab down`);
  }
}
