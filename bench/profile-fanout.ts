/**
 * Where a fan-out's time goes (issue 13): a lab client sends N echo tasks as one group to a `lab worker` and waits for
 * every result, with V8's CPU profiler on the client, the worker and its pool children; then prints each profile's top
 * frames by self time.
 *
 *   node --cpu-prof --cpu-prof-dir=<dir> dist/bench/profile-fanout.js --dir <dir> [--n 20000] [--pool prefork|threads|async]
 *   node dist/bench/profile-fanout.js --dir <dir> --no-prof …        (no profiler: tasks/s and CPU time per task alone)
 *   node dist/bench/profile-fanout.js --top <file.cpuprofile>…      (print the top frames of profiles already taken)
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { App, Signature } from '../lab/queue/index.js';
import { cpuMsOf } from './proc-stats.js';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const AMQP = process.env.LAB_BENCH_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672//';
const REDIS = process.env.LAB_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/0';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Self time per function (name + file:line), as a share of the profile's samples; the top `n`. */
export function topFrames(profile: CpuProfile, n = 15): { frame: string; selfPct: number }[] {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<string, number>();
  for (const id of profile.samples) {
    const f = byId.get(id)!.callFrame;
    const file = f.url ? `${basename(f.url)}:${f.lineNumber + 1}` : '';
    const key = `${f.functionName || '(anonymous)'} ${file}`.trim();
    self.set(key, (self.get(key) ?? 0) + 1);
  }
  const total = profile.samples.length || 1;
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([frame, count]) => ({ frame, selfPct: (100 * count) / total }));
}

function printTop(file: string): void {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  process.stdout.write(`\n${basename(file)} (${p.samples.length} samples)\n`);
  for (const { frame, selfPct } of topFrames(p)) process.stdout.write(`  ${selfPct.toFixed(1).padStart(5)} %  ${frame}\n`);
}

async function main(): Promise<void> {
  const topAt = process.argv.indexOf('--top');
  if (topAt > 0) {
    for (const f of process.argv.slice(topAt + 1)) printTop(f);
    return;
  }
  const dir = arg('dir', '');
  if (!dir) throw new Error('--dir <folder for the worker’s profiles> is required');
  const n = Number(arg('n', '20000'));
  const pool = arg('pool', 'prefork');
  const queue = `bench-profile-${randomBytes(3).toString('hex')}`;
  const app = new App('bench-profile', { broker: AMQP, backend: REDIS, config: { task_default_queue: queue, result_expires: 600 } });
  // --no-prof: the same run without the profiler (its own cost out of the CPU-per-task figures).
  const prof = process.argv.includes('--no-prof') ? [] : ['--cpu-prof', `--cpu-prof-dir=${dir}`];
  // Its own node name: the default (celery@host) would share a mailbox with any other worker on this machine.
  const worker = spawn(process.execPath, [...prof, join(REPO, 'bin', 'lab.js'), 'worker', '-A', 'echo', '-Q', queue, '-c', '2', '-P', pool, '--loglevel', 'warning', '-n', `${queue}@%h`, '--broker', AMQP, '--backend', REDIS], { stdio: ['ignore', 'inherit', 'inherit'] });
  try {
    const broker = await app.getBroker();
    await app.ensureQueue(broker, queue);
    while (((await broker.stats(queue)).consumers ?? 0) === 0) await new Promise((r) => setTimeout(r, 50));
    const c0 = process.cpuUsage();
    const w0 = cpuMsOf(worker.pid!);
    const t0 = performance.now();
    const g = await app.sendGroup(Array.from({ length: n }, (_, i) => new Signature(app, 'test.echo', [i])));
    await g.get({ timeout: 600 });
    const ms = performance.now() - t0;
    const c = process.cpuUsage(c0);
    const workerCpu = cpuMsOf(worker.pid!) - w0;
    await g.forget();
    process.stdout.write(`fan-out ${n} on ${pool}: ${ms.toFixed(0)} ms, ${(n / (ms / 1000)).toFixed(0)} tasks/s; CPU per 1,000 tasks: client ${((c.user + c.system) / n).toFixed(0)} ms, worker + pool ${((workerCpu * 1000) / n).toFixed(0)} ms\n`);
    await broker.deleteQueue(queue);
  } finally {
    worker.kill('SIGTERM');
    await new Promise((r) => worker.once('close', r));
    await app.close();
  }
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.cpuprofile'))) printTop(join(dir, f));
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/profile-fanout: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
