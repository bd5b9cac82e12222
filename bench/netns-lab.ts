/**
 * Benchmark of the netns lab (issue: the lab), in one run on this machine, as root:
 *  - `lab up` cold (goal ≤ 8 s; RabbitMQ's boot dominates), `lab up` again on the healthy lab (≤ 0.5 s), `lab down` (≤ 2 s);
 *  - mergesort n=4 of 1,000,000 ints with 2 worker processes on HOST3: distributed / local (goal ≤ 0.8;
 *    the book's Python Celery took 2.24× longer distributed than local here);
 *  - with --python: the book's own Python main.py on HOST4 against the same lab (Python master, lab workers).
 * Usage: sudo node dist/bench/netns-lab.js [--repeat 5] [--python]
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
const home = mkdtempSync(join(tmpdir(), 'lab-bench-netns-'));
const inventory = join(home, 'hosts.yaml');
writeFileSync(inventory, ['lab: benchnetns', 'provider: netns', 'subnet: 198.18.230.0/24', 'hosts:', '  HOST1:', '  HOST2:', '  HOST3: { concurrency: 2, pool: prefork }', '  HOST4:', ''].join('\n'));

function lab(args: string[], env: NodeJS.ProcessEnv = {}, cwd = home): { ms: number; stdout: string; stderr: string; code: number | null } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', env: { ...process.env, LAB_HOME: home, ...env }, maxBuffer: 256 * 1024 * 1024 });
  return { ms: performance.now() - t0, stdout: r.stdout, stderr: r.stderr, code: r.status };
}

function must(r: ReturnType<typeof lab>, what: string): ReturnType<typeof lab> {
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}): ${r.stderr}`);
  return r;
}

const rows: [string, string, string, boolean | null][] = [];
try {
  const up = must(lab(['up', '--hosts', inventory]), 'lab up');
  const reup = must(lab(['up', '--hosts', inventory]), 'lab up (again)');
  const rec = JSON.parse(must(lab(['run', 'mergesort', '--n', '4', '--repeat', String(REPEAT), '--warmup', '1', '--json', '--reports', join(home, 'reports')]), 'lab run').stdout) as RunRecord;
  const st = rec.points[0].stats;
  const ratio = st.distributed.total.median / st.local.total.median;
  rows.push(['lab up, cold (4 namespaces, RabbitMQ, Redis, quotes, workers, canary)', formatMs(up.ms), '≤ 8 s', up.ms <= 8000]);
  rows.push(['lab up again, healthy lab', formatMs(reup.ms), '≤ 0.5 s', reup.ms <= 500]);
  rows.push([
    `mergesort n=4, 1M ints, 2 prefork workers on HOST3: distributed / local (median of ${REPEAT})`,
    `${formatRatio(ratio)} (distributed ${formatMs(st.distributed.total.median)} ± ${formatMs(st.distributed.total.mad)}: ${Object.entries(st.distributed.phases).map(([k, v]) => `${k} ${formatMs(v.median)}`).join(', ')}; local ${formatMs(st.local.total.median)})`,
    '≤ 0.8',
    ratio <= 0.8,
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
  lab(['down', '--lab', 'benchnetns']);
  rmSync(home, { recursive: true, force: true });
}
console.log(`netns lab benchmark · ${new Date().toISOString()}`);
for (const [what, got, goal, ok] of rows) console.log(`${ok === null ? 'INFO' : ok ? 'MET ' : 'MISS'}  ${what}: ${got}  [goal ${goal}]`);
