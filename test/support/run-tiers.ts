/**
 * `npm test`: every tier in turn with Node's test runner — unit, integration, e2e, interop — each tier's output as
 * it runs, then one line per tier (tests, passed, failed, time) and the total. All tiers run even when one fails,
 * so a CI log shows everything; the exit code is 1 if any test failed — or if the tests left anything of lab's on this
 * machine that was not there before them (leftovers.ts: processes, namespaces, links, containers).
 *
 * Usage: node dist/test/support/run-tiers.js [tier…]   (default: all tiers, in this order)
 *
 * After each tier: its slowest files (what to look at when the suite nears CI's limit). At the end: the total
 * against CI's 90-minute limit; with LAB_TIER_SUMMARY=FILE the per-tier lines also go to FILE (.ci/run prints them
 * with its own phases).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { TierReport } from './file-times-reporter.js';
import { leftovers, snapshot } from './leftovers.js';

const DIST_TEST = fileURLToPath(new URL('../', import.meta.url));

interface Tier {
  name: string;
  describe: string;
  /** Does this compiled test file (relative to dist/test) belong to the tier? */
  holds(rel: string): boolean;
}

const isInterop = (rel: string): boolean => rel.startsWith('interop/');

const TIERS: Tier[] = [
  { name: 'unit', describe: 'no servers', holds: (r) => !r.endsWith('.integration.test.js') && !r.endsWith('.e2e.test.js') && !isInterop(r) },
  { name: 'integration', describe: 'real RabbitMQ and Redis', holds: (r) => r.endsWith('.integration.test.js') && !isInterop(r) },
  { name: 'e2e', describe: 'labs: namespaces, SSH, a Docker Engine API, the CLI', holds: (r) => r.endsWith('.e2e.test.js') && !isInterop(r) },
  { name: 'interop', describe: 'Python Celery, RQ and Pyro4 from Debian', holds: isInterop },
];

async function testFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await testFiles(p)));
    else if (e.name.endsWith('.test.js')) out.push(p);
  }
  return out.sort();
}

/** CI's limit for one run of .ci/run (the whole job, of which the tests are most). */
const CI_LIMIT_S = 90 * 60;

interface TierResult {
  tier: Tier;
  /** The slowest files of the tier, slowest first: [path relative to dist/test, seconds]. */
  slowest: [string, number][];
  tests: number;
  pass: number;
  fail: number;
  skipped: number;
  seconds: number;
  exitCode: number;
}

async function runTier(tier: Tier, files: string[], scratch: string): Promise<TierResult> {
  process.stdout.write(`\n== tier ${tier.name} (${tier.describe}): ${files.length} files\n`);
  const timesFile = join(scratch, `${tier.name}.times.json`);
  const reporter = fileURLToPath(new URL('./file-times-reporter.js', import.meta.url));
  const t0 = performance.now();
  const exitCode = await new Promise<number>((resolve) => {
    const child = spawn(process.execPath, ['--test', '--test-reporter=spec', '--test-reporter-destination=stdout', `--test-reporter=${reporter}`, `--test-reporter-destination=${timesFile}`, ...files], { stdio: 'inherit' });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
  const seconds = (performance.now() - t0) / 1000;
  const report = JSON.parse(await readFile(timesFile, 'utf8').catch(() => '{"files":{},"counts":{}}')) as TierReport;
  const count = (what: string): number => report.counts[what] ?? 0;
  const perFile = Object.entries(report.files).map(([f, ms]) => [relative(DIST_TEST, f), ms / 1000] as [string, number]);
  const slowest = perFile.sort((a, b) => b[1] - a[1]).slice(0, 5);
  if (slowest.length > 0) process.stdout.write(`== tier ${tier.name}: slowest files: ${slowest.map(([f, sec]) => `${f} ${formatTime(sec)}`).join(' · ')}\n`);
  return { tier, slowest, tests: count('tests'), pass: count('pass'), fail: count('fail') + count('cancelled'), skipped: count('skipped'), seconds, exitCode };
}

function formatTime(s: number): string {
  return s < 60 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

async function main(): Promise<number> {
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((w) => !TIERS.some((t) => t.name === w));
  if (unknown.length > 0) {
    process.stderr.write(`unknown tier ${unknown.join(', ')} (tiers: ${TIERS.map((t) => t.name).join(', ')})\n`);
    return 2;
  }
  const tiers = wanted.length > 0 ? TIERS.filter((t) => wanted.includes(t.name)) : TIERS;
  const all = (await testFiles(DIST_TEST)).map((p) => ({ path: p, rel: relative(DIST_TEST, p) }));
  const scratch = await mkdtemp(join(tmpdir(), 'lab-tiers-'));
  const before = await snapshot();
  const results: TierResult[] = [];
  try {
    for (const tier of tiers) {
      const files = all.filter((f) => tier.holds(f.rel)).map((f) => f.path);
      if (files.length === 0) continue;
      results.push(await runTier(tier, files, scratch));
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  const rows = results.map((r) => `${r.tier.name.padEnd(12)} ${String(r.tests).padStart(6)} ${String(r.pass).padStart(6)} ${String(r.fail).padStart(6)} ${String(r.skipped).padStart(7)}  ${formatTime(r.seconds)}${r.exitCode !== 0 && r.fail === 0 ? `  (runner exit ${r.exitCode})` : ''}`);
  const sum = (k: 'tests' | 'pass' | 'fail' | 'skipped' | 'seconds'): number => results.reduce((n, r) => n + r[k], 0);
  const left = await leftovers(before);
  process.stdout.write(`\n== left on this machine by the tests: ${left.length === 0 ? 'nothing' : `${left.length} — a failure\n${left.map((l) => `   ${l}`).join('\n')}`}\n`);
  const testsFailed = results.some((r) => r.exitCode !== 0 || r.fail > 0);
  const failed = testsFailed || left.length > 0;
  const table = [
    `${'tier'.padEnd(12)} ${'tests'.padStart(6)} ${'pass'.padStart(6)} ${'fail'.padStart(6)} ${'skipped'.padStart(7)}  time`,
    ...rows,
    `${'total'.padEnd(12)} ${String(sum('tests')).padStart(6)} ${String(sum('pass')).padStart(6)} ${String(sum('fail')).padStart(6)} ${String(sum('skipped')).padStart(7)}  ${formatTime(sum('seconds'))} (${Math.round((100 * sum('seconds')) / CI_LIMIT_S)}% of CI's 90 min)`,
    testsFailed ? `FAILED: ${sum('fail')} test${sum('fail') === 1 ? '' : 's'} failed${results.some((r) => r.exitCode !== 0 && r.fail === 0) ? ' (or a runner exited non-zero)' : ''}` : left.length > 0 ? `FAILED: all tests passed, but they left ${left.length} thing${left.length === 1 ? '' : 's'} on this machine (above)` : 'all passed',
  ];
  process.stdout.write(['', '== test tiers', ...table, ''].join('\n'));
  if (process.env.LAB_TIER_SUMMARY) await writeFile(process.env.LAB_TIER_SUMMARY, `${table.join('\n')}\n`).catch(() => undefined);
  return failed ? 1 : 0;
}

process.exitCode = await main();
