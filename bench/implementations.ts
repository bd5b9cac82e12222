/**
 * The chapter's three systems beside the bundled runtime, in one run on a netns lab (RabbitMQ HOST1, Redis HOST2,
 * workers HOST3 with 2 processes each implementation, drivers on HOST4), as `lab run --impl` measures them:
 *  - echo: round trip (median and p95 of --repeat calls) and fan-out (2,000 echoes at once: tasks/s);
 *  - currency: the book's six pairs at 200 ms per quote, every mode of every implementation (the chapter reports
 *    Pyro's async calls about six times faster than its sync ones);
 *  - mergesort: 1,000,000 ints in 4 chunks, local and distributed (Python Celery's distributed sort takes ~21 s here).
 * Prints one Markdown table (implementation columns, figure rows) and where the records are.
 * Usage: sudo node dist/bench/implementations.js [--repeat 200] [--fanout 2000] [--size 1000000] [--parts echo,fanout,currency,mergesort] [--keep]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatMs, formatRatio } from '../lab/report/format.js';
import { modeKey } from '../lab/report/run-record.js';
import type { RunRecord } from '../lab/report/run-record.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin/lab.js');
const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1]! : def;
};
const REPEAT = arg('--repeat', '200');
const FANOUT = Number(arg('--fanout', '2000'));
const SIZE = arg('--size', '1000000');
const IMPLS = ['lab', 'celery', 'rq', 'pyro'];
const PARTS = new Set(arg('--parts', 'echo,fanout,currency,mergesort').split(','));
const home = mkdtempSync(join(tmpdir(), 'lab-bench-impls-'));
const inventory = join(home, 'hosts.yaml');
const reports = join(home, 'reports');
writeFileSync(inventory, ['lab: benchimpls', 'provider: netns', 'subnet: 198.18.238.0/24', 'hosts:', '  HOST1:', '  HOST2:', '  HOST3: { concurrency: 2, pool: prefork }', '  HOST4:', ''].join('\n'));

function lab(args: string[]): { stdout: string; stderr: string; code: number | null } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: home, encoding: 'utf8', env: { ...process.env, LAB_HOME: home }, maxBuffer: 512 * 1024 * 1024 });
  return { stdout: r.stdout, stderr: r.stderr, code: r.status };
}

function run(args: string[]): RunRecord {
  process.stderr.write(`lab ${args.join(' ')}\n`);
  const r = lab([...args, '--json', '--reports', reports]);
  if (r.code !== 0) throw new Error(`lab ${args.join(' ')} failed (exit ${r.code}): ${r.stderr.slice(-2000)}`);
  const rec = JSON.parse(r.stdout) as RunRecord;
  if (!rec.verified) throw new Error(`lab ${args.join(' ')}: not verified: ${rec.points[0]?.verify.detail}`);
  return rec;
}

type Row = [string, ...string[]];
const rows: Row[] = [];
const cell = (rec: RunRecord, impl: string, mode: string, f: (s: NonNullable<RunRecord['points'][0]['stats'][string]>) => string): string => {
  const s = rec.points[0]!.stats[modeKey(impl, mode)];
  return s ? f(s) : '—';
};
const median = (s: { total: { median: number } }): string => formatMs(s.total.median);

let startedAt = '';
try {
  const up = lab(['up', '--hosts', inventory]);
  if (up.code !== 0) throw new Error(`lab up failed: ${up.stderr}`);
  startedAt = new Date().toISOString();

  if (PARTS.has('echo')) {
    const echo = run(['run', 'echo', '--impl', IMPLS.join(','), '--repeat', REPEAT, '--warmup', String(Math.ceil(Number(REPEAT) / 10))]);
    const rt = (s: { total: { median: number; p95: number } }): string => `${formatMs(s.total.median)} (p95 ${formatMs(s.total.p95)})`;
    rows.push([`echo round trip, median (p95) of ${REPEAT}`, cell(echo, 'lab', 'distributed', rt), cell(echo, 'celery', 'distributed', rt), cell(echo, 'rq', 'distributed', rt), `sync ${cell(echo, 'pyro', 'sync', rt)} · async ${cell(echo, 'pyro', 'async', rt)}`]);
  }
  if (PARTS.has('fanout')) {
    const fan = run(['run', 'echo', '--tasks', String(FANOUT), '--impl', IMPLS.join(','), '--repeat', '3', '--warmup', '1']);
    const tps = (s: { total: { median: number } }): string => `${Math.round((FANOUT / s.total.median) * 1000).toLocaleString('en-US')}/s`;
    rows.push([`echo fan-out, ${FANOUT.toLocaleString('en-US')} tasks at once: tasks/s (median of 3)`, cell(fan, 'lab', 'distributed', tps), cell(fan, 'celery', 'distributed', tps), cell(fan, 'rq', 'distributed', tps), `sync ${cell(fan, 'pyro', 'sync', tps)} · async ${cell(fan, 'pyro', 'async', tps)}`]);
  }
  if (PARTS.has('currency')) {
    const cur = run(['run', 'currency', '--impl', IMPLS.join(','), '--repeat', '5', '--warmup', '1']);
    for (const mode of ['sequential', 'concurrent', 'distributed']) rows.push([`currency, 6 pairs × 200 ms: ${mode}`, cell(cur, 'lab', mode, median), cell(cur, 'celery', mode, median), cell(cur, 'rq', mode, median), '—']);
    const sync = cur.points[0]!.stats['pyro/sync']?.total.median;
    const asyn = cur.points[0]!.stats['pyro/async']?.total.median;
    rows.push(['currency: Pyro sync → async (the chapter: ~6× faster)', '—', '—', '—', `${formatMs(sync)} → ${formatMs(asyn)} (${formatRatio(sync! / asyn!)} faster)`]);
  }
  if (PARTS.has('mergesort')) {
    const ms = run(['run', 'mergesort', '--impl', 'lab,celery,rq', '--size', SIZE, '--n', '4', '--repeat', '3', '--warmup', '0', '--timeout', '600']);
    const size = Number(SIZE).toLocaleString('en-US');
    for (const mode of ['local', 'distributed']) rows.push([`mergesort ${size} ints, n=4: ${mode} (median of 3)`, cell(ms, 'lab', mode, median), cell(ms, 'celery', mode, median), cell(ms, 'rq', mode, median), '—']);
    const phases = (impl: string): string => {
      const s = ms.points[0]!.stats[modeKey(impl, 'distributed')];
      return s ? Object.entries(s.phases).map(([k, v]) => `${k} ${formatMs(v.median)}`).join(', ') : '—';
    };
    rows.push(['mergesort distributed: phases', phases('lab'), phases('celery'), phases('rq'), '—']);
  }
} finally {
  if (!process.argv.includes('--keep')) {
    lab(['down', '--lab', 'benchimpls']);
    rmSync(home, { recursive: true, force: true });
  }
}

console.log(`\nimplementations on a netns lab (HOST3: 2 worker processes each; drivers on HOST4) · ${startedAt} · load average at the end ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
console.log('| figure | lab | celery | rq | pyro |');
console.log('| --- | ---: | ---: | ---: | ---: |');
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
if (process.argv.includes('--keep')) console.log(`records: ${reports} (lab down --lab benchimpls with LAB_HOME=${home} when done)`);
