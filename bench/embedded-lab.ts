/**
 * Benchmark for the embedded lab (the spine issue's figures), measured in one run on this machine:
 *  1. whole-process wall time of `lab run mergesort --n 4` (1,000,000 ints), as a user runs it (goal ≤ 1.5 s);
 *  2. mergesort n=4 distributed / local time ratio, medians over repeats (goal ≤ 1.0 on 2 cores);
 *  3. echo round trip median in the embedded lab (goal ≤ 0.2 ms).
 * Usage: npm run build && node dist/bench/embedded-lab.js [--runs 10]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { summarize } from '../lab/report/statistics.js';
import { formatMs, formatRatio } from '../lab/report/format.js';
import type { RunRecord } from '../lab/report/run-record.js';

const BIN = fileURLToPath(new URL('../../bin/lab.js', import.meta.url));
const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 10;
const reports = mkdtempSync(join(tmpdir(), 'lab-bench-'));

function lab(args: string[]): { ms: number; stdout: string } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [BIN, ...args, '--reports', reports], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`lab ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return { ms, stdout: r.stdout };
}

try {
  // 1. Wall time of the whole process, one warm-up (file cache) then RUNS runs.
  lab(['run', 'mergesort', '--n', '4']);
  const walls = Array.from({ length: RUNS }, () => lab(['run', 'mergesort', '--n', '4']).ms);
  const wall = summarize(walls);

  // 2. distributed/local within one process, interleaved repeats.
  const ms = JSON.parse(lab(['run', 'mergesort', '--n', '4', '--repeat', String(Math.max(RUNS, 10)), '--warmup', '2', '--json']).stdout) as RunRecord;
  const st = ms.points[0].stats;
  const ratio = st.distributed.total.median / st.local.total.median;

  // 3. echo round trip.
  const echo = JSON.parse(lab(['run', 'echo', '--repeat', '2000', '--warmup', '200', '--json']).stdout) as RunRecord;
  const rt = echo.points[0].stats.distributed.total;

  const rows: [string, string, string, boolean][] = [
    ['lab run mergesort --n 4: whole process wall time', `median ${formatMs(wall.median)} (MAD ${formatMs(wall.mad)}, min ${formatMs(wall.min)}, n=${wall.n})`, '≤ 1.5 s', wall.median <= 1500],
    [
      'mergesort n=4 distributed / local',
      `${formatRatio(ratio)} (distributed ${formatMs(st.distributed.total.median)} ± ${formatMs(st.distributed.total.mad)}, local ${formatMs(st.local.total.median)} ± ${formatMs(st.local.total.mad)}; phases ${Object.entries(st.distributed.phases).map(([k, v]) => `${k} ${formatMs(v.median)}`).join(', ')})`,
      '≤ 1.0',
      ratio <= 1.0,
    ],
    ['echo round trip, embedded lab', `median ${formatMs(rt.median)}, p95 ${formatMs(rt.p95)}, p99 ${formatMs(rt.p99)} (n=${rt.n})`, '≤ 0.2 ms', rt.median <= 0.2],
  ];
  console.log(`embedded lab benchmark · node ${ms.env.node} · ${ms.env.cpus} × ${ms.env.cpuModel} · commit ${ms.env.gitCommit ?? '?'}`);
  for (const [what, got, goal, ok] of rows) console.log(`${ok ? 'MET ' : 'MISS'}  ${what}: ${got}  [goal ${goal}]`);
} finally {
  rmSync(reports, { recursive: true, force: true });
}
