/**
 * Benchmark of the netns lab (issue: the lab), in one run on this machine, as root:
 *  - `lab up` cold (goal ≤ 8 s; RabbitMQ's boot dominates), `lab up` again on the healthy lab (≤ 0.5 s; median of 3),
 *    `lab down` (≤ 2 s);
 *  - mergesort n=4 of 1,000,000 ints with 2 worker processes on HOST3: distributed / local (issue 13's goal ≤ 1.2 on
 *    the netns lab; the book's Python Celery took 2.24× longer distributed than local here);
 *  - with --python: the book's own Python main.py on HOST4 against the same lab (Python master, lab workers).
 *  - `lab status` (median of 3); with --hosts N, N hosts: HOST3 and HOST5…HOSTN run workers (issue 13 asks 12: up again
 *    and status ≤ 1 s).
 * Usage: sudo node dist/bench/netns-lab.js [--repeat 5] [--hosts 4] [--python]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { formatMs, formatRatio } from '../lab/report/format.js';
import type { RunRecord } from '../lab/report/run-record.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin/lab.js');
const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : def;
};
const REPEAT = Number(arg('--repeat', '5'));
/** --hosts N (≥ 4): HOST1 broker, HOST2 backend, HOST4 master, HOST3 and HOST5…HOSTN workers (issue 13: 12 hosts). */
const HOSTS = Number(arg('--hosts', '4'));
if (!Number.isInteger(HOSTS) || HOSTS < 4 || HOSTS > 200) throw new Error(`--hosts: expected an integer from 4 to 200, got ${arg('--hosts', '4')}`);
/** This machine is shared: a lab name of this run's own (its namespaces are named after it). */
const LAB = `benchnetns-${process.pid}`;
const home = mkdtempSync(join(tmpdir(), 'lab-bench-netns-'));
const inventory = join(home, 'hosts.yaml');
const extraWorkers = Array.from({ length: HOSTS - 4 }, (_, i) => `  HOST${i + 5}: { roles: [workers], concurrency: 2, pool: prefork }`);
writeFileSync(
  inventory,
  [`lab: ${LAB}`, 'provider: netns', 'subnet: 198.18.230.0/24', 'hosts:', '  HOST1:', '  HOST2:', '  HOST3: { concurrency: 2, pool: prefork }', '  HOST4:', ...extraWorkers, ''].join('\n'),
);

function lab(args: string[], env: NodeJS.ProcessEnv = {}, cwd = home): { ms: number; stdout: string; stderr: string; code: number | null } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', env: { ...process.env, LAB_HOME: home, ...env }, maxBuffer: 256 * 1024 * 1024 });
  return { ms: performance.now() - t0, stdout: r.stdout, stderr: r.stderr, code: r.status };
}

function must(r: ReturnType<typeof lab>, what: string): ReturnType<typeof lab> {
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}): ${r.stderr}`);
  return r;
}

const median3 = (xs: number[]): number => [...xs].sort((a, b) => a - b)[1];

const rows: [string, string, string, boolean | null][] = [];
try {
  const up = must(lab(['up', '--hosts', inventory]), 'lab up');
  // one sample of a ~1 s command on a shared machine says little: the median of 3, each shown
  const reups = [0, 1, 2].map(() => must(lab(['up', '--hosts', inventory]), 'lab up (again)').ms);
  const rec = JSON.parse(must(lab(['run', 'mergesort', '--n', '4', '--repeat', String(REPEAT), '--warmup', '1', '--json', '--reports', join(home, 'reports')]), 'lab run').stdout) as RunRecord;
  const st = rec.points[0].stats;
  const ratio = st.distributed.total.median / st.local.total.median;
  rows.push([`lab up, cold (${HOSTS} namespaces, RabbitMQ, Redis, quotes, workers, canary)`, formatMs(up.ms), '≤ 8 s', HOSTS === 4 ? up.ms <= 8000 : null]);
  // Issue 13: on 12 hosts, `lab up` again and `lab status` ≤ 1 s; on the book's 4, `lab up` again ≤ 0.5 s.
  const againGoal = HOSTS > 4 ? 1000 : 500;
  const again = median3(reups);
  rows.push([`lab up again, healthy lab (${HOSTS} hosts; median of 3)`, `${formatMs(again)} (${reups.map(formatMs).join(', ')})`, `≤ ${againGoal / 1000} s`, again <= againGoal]);
  const statuses = [0, 1, 2].map(() => must(lab(['status', '--hosts', inventory]), 'lab status').ms);
  rows.push([`lab status (${HOSTS} hosts; median of 3)`, `${formatMs(median3(statuses))} (${statuses.map(formatMs).join(', ')})`, '≤ 1 s', median3(statuses) <= 1000]);
  rows.push([
    `mergesort n=4, 1M ints, 2 prefork workers on HOST3: distributed / local (median of ${REPEAT})`,
    `${formatRatio(ratio)} (distributed ${formatMs(st.distributed.total.median)} ± ${formatMs(st.distributed.total.mad)}: ${Object.entries(st.distributed.phases).map(([k, v]) => `${k} ${formatMs(v.median)}`).join(', ')}; local ${formatMs(st.local.total.median)})`,
    '≤ 1.2',
    ratio <= 1.2,
  ]);
  if (process.argv.includes('--python')) {
    const py = must(lab(['exec', 'HOST4', '--', '/usr/bin/python3', 'main.py'], { BOOK_SIZE: '1000000' }, join(ROOT, 'test/fixtures/book')), 'python main.py');
    const d = Number(/Distributed mergesort took ([\d.]+)s/.exec(py.stdout)?.[1]);
    const l = Number(/Local mergesort took ([\d.]+)s/.exec(py.stdout)?.[1]);
    rows.push(["the book's Python main.py on HOST4 (Python master, lab workers): distributed / local", `${formatRatio(d / l)} (distributed ${d}s, local ${l}s)`, 'for reference', null]);
  }
  const down = must(lab(['down']), 'lab down');
  rows.push(['lab down', formatMs(down.ms), '≤ 2 s', down.ms <= 2000]);
} finally {
  lab(['down', '--lab', LAB]);
  rmSync(home, { recursive: true, force: true });
}
console.log(`netns lab benchmark · ${new Date().toISOString()}`);
for (const [what, got, goal, ok] of rows) console.log(`${ok === null ? 'INFO' : ok ? 'MET ' : 'MISS'}  ${what}: ${got}  [goal ${goal}]`);
