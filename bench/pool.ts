/**
 * The prefork pool alone, no broker (issue 13): what handing a job to a forked child and its result back costs. N
 * small echo jobs through `-c 2` children with 8 in flight (a worker's prefetch) — CPU time per task of the parent and
 * of its children, from /proc, and tasks/s —, then the same echo one at a time (the hop an echo call's latency pays
 * twice: parent → child → parent; median and 99th percentile), then mergesort-sized jobs (a body of 250,000 ints, 1.7 MB, and the same
 * back) one at a time through one child: median and fastest round trip. bench/runtime has the whole worker.
 *
 * Beside the pool, the floor under any prefork design: 64 bytes through a pipe to a bare forked node (no lab code)
 * and back. Both one at a time, back to back and with `--gap` ms between calls — an echo call's children sit idle
 * between calls, so each crossing must wake a process (on a VM, an idle vCPU), and the longer it idled the dearer the
 * wake: in an echo benchmark a child idles a few ms between its jobs (try `--gap 5`). Run it under `taskset -c 0` to
 * see what the same crossings cost when nothing has to be woken on another CPU.
 *
 *   node dist/bench/pool.js [--n 20000] [--big 15] [--gap 1.5] [--json]
 */
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { ChildPool, buildTaskMessage } from '../lab/queue/index.js';
import type { Job } from '../lab/queue/index.js';
import { summarize } from '../lab/report/statistics.js';
import { shuffledRange } from '../scenarios/mergesort/mergesort.js';
import { cpuMsOf } from './proc-stats.js';
import { sleep } from './bench-process.js';

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

const N = flag('n', 20_000);
const BIG = flag('big', 15);
const GAP_MS = flag('gap', 1.5);
const SEQUENTIAL_CALLS = Math.min(2000, N);
const WINDOW = 8;
const ECHO_TASKS = new URL('../scenarios/echo/tasks.js', import.meta.url).href;

let seq = 1;
function job(args: unknown[]): Job {
  const id = randomUUID();
  const { body, properties } = buildTaskMessage('test.echo', { id, args });
  const request = { id, task: 'test.echo', retries: 0, eta: null, expires: null, group: null, groupIndex: null, rootId: id, parentId: null, hostname: 'bench@pool', deliveryInfo: { queue: 'bench', redelivered: false } };
  return { seq: seq++, task: 'test.echo', body, contentType: properties.contentType, resultSerializer: 'json', request, softTimeLimit: null, hardTimeLimit: null };
}

/** n echo jobs, `WINDOW` in flight at a time, as a worker with that prefetch keeps its pool busy. */
async function fanOut(pool: ChildPool, n: number): Promise<void> {
  let sent = 0;
  let done = 0;
  await new Promise<void>((resolve, reject) => {
    const next = (): void => {
      if (sent >= n) return;
      sent++;
      void pool.run(job(['Python rocks!'])).then((o) => {
        if (o.kind !== 'success' || o.resultJson !== '"Python rocks!"') return reject(new Error(`echo: ${JSON.stringify(o)}`));
        if (++done === n) resolve();
        else next();
      });
    };
    for (let i = 0; i < WINDOW; i++) next();
  });
}

async function small(): Promise<{ tasksPerS: number; parentUsPerTask: number; childrenUsPerTask: number }> {
  const pool = new ChildPool('prefork', 2, [ECHO_TASKS]);
  await pool.start();
  try {
    await fanOut(pool, Math.min(3000, N)); // warm-up
    const parent0 = process.cpuUsage();
    const children0 = pool.pids.reduce((a, p) => a + cpuMsOf(p), 0);
    const t0 = performance.now();
    await fanOut(pool, N);
    const wallMs = performance.now() - t0;
    const parent = process.cpuUsage(parent0);
    const childrenMs = pool.pids.reduce((a, p) => a + cpuMsOf(p), 0) - children0;
    return { tasksPerS: (N / wallMs) * 1000, parentUsPerTask: (parent.user + parent.system) / N, childrenUsPerTask: (childrenMs * 1000) / N };
  } finally {
    await pool.close(true);
  }
}

interface Sequential {
  medianUs: number;
  p99Us: number;
}
function micros(samples: number[]): Sequential {
  const s = summarize(samples);
  return { medianUs: s.median * 1000, p99Us: s.p99 * 1000 };
}

/** `call` one at a time (200 first unmeasured), `gapMs` apart (0: back to back); its round trips. */
async function oneAtATime(call: () => Promise<void>, gapMs: number): Promise<Sequential> {
  const samples: number[] = [];
  for (let i = -200; i < SEQUENTIAL_CALLS; i++) {
    if (gapMs > 0) await sleep(gapMs);
    const t0 = performance.now();
    await call();
    if (i >= 0) samples.push(performance.now() - t0);
  }
  return micros(samples);
}

/** The round trip through a pool child that each prefork echo call pays, back to back and spaced. */
async function poolSequential(): Promise<{ backToBack: Sequential; spaced: Sequential }> {
  const pool = new ChildPool('prefork', 2, [ECHO_TASKS]);
  await pool.start();
  const call = async (): Promise<void> => {
    const o = await pool.run(job(['Python rocks!']));
    // The echo must come back as sent: a fast wrong answer is not a figure.
    if (o.kind !== 'success' || o.resultJson !== '"Python rocks!"') throw new Error(`echo: ${o.kind === 'success' ? o.resultJson : o.kind}`);
  };
  try {
    return { backToBack: await oneAtATime(call, 0), spaced: await oneAtATime(call, GAP_MS) };
  } finally {
    await pool.close(true);
  }
}

/** The floor: 64 bytes to a bare forked node over a pipe (as the pool's fd 3) and back, nothing else. */
async function pipeSequential(): Promise<{ backToBack: Sequential; spaced: Sequential }> {
  const child = fork(new URL(import.meta.url), ['--pipe-echo'], { stdio: ['ignore', 'inherit', 'inherit', 'pipe', 'ipc'] });
  const pipe = child.stdio[3] as Socket;
  const ping = Buffer.alloc(64, 7);
  let want = 0;
  let wake: (() => void) | null = null;
  pipe.on('data', (chunk: Buffer) => {
    want -= chunk.length;
    if (want === 0) wake?.();
  });
  const call = (): Promise<void> =>
    new Promise((resolve) => {
      want = ping.length;
      wake = resolve;
      pipe.write(ping);
    });
  try {
    await new Promise<void>((r) => child.once('message', () => r()));
    return { backToBack: await oneAtATime(call, 0), spaced: await oneAtATime(call, GAP_MS) };
  } finally {
    child.kill();
  }
}

async function big(): Promise<{ medianMs: number; minMs: number; bytes: number }> {
  const pool = new ChildPool('prefork', 1, [ECHO_TASKS]);
  await pool.start();
  try {
    const ints = shuffledRange(250_000, 1);
    const samples: number[] = [];
    let bytes = 0;
    for (let i = -3; i < BIG; i++) {
      const j = job([ints]);
      bytes = j.body.byteLength;
      const t0 = performance.now();
      const o = await pool.run(j);
      if (o.kind !== 'success' || o.resultJson.length < bytes / 2) throw new Error(`big echo: ${o.kind}`);
      if (i >= 0) samples.push(performance.now() - t0);
    }
    const s = summarize(samples);
    return { medianMs: s.median, minMs: s.min, bytes };
  } finally {
    await pool.close(true);
  }
}

if (process.argv.includes('--pipe-echo')) {
  // The bare child of pipeSequential: echo whatever arrives on fd 3.
  const pipe = new Socket({ fd: 3, readable: true, writable: true });
  pipe.on('data', (chunk: Buffer) => pipe.write(chunk));
  process.on('disconnect', () => process.exit(0));
  process.send!('ready');
} else {
  const smallFigures = await small();
  const sequential = await poolSequential();
  const pipe = await pipeSequential();
  const bigFigures = await big();
  report(smallFigures, sequential, pipe, bigFigures);
}

function report(smallFigures: Awaited<ReturnType<typeof small>>, sequential: Awaited<ReturnType<typeof poolSequential>>, pipe: Awaited<ReturnType<typeof pipeSequential>>, bigFigures: Awaited<ReturnType<typeof big>>): void {
  if (process.argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify({ n: N, gapMs: GAP_MS, small: smallFigures, sequential, pipe, big: bigFigures })}\n`);
    return;
  }
  const line = (what: string, s: Sequential): string => `${what}: median ${s.medianUs.toFixed(0)} µs, p99 ${s.p99Us.toFixed(0)} µs`;
  console.log(`prefork pool -c 2, ${N} echo jobs, ${WINDOW} in flight: ${Math.round(smallFigures.tasksPerS)} tasks/s; CPU per task: parent ${smallFigures.parentUsPerTask.toFixed(1)} µs, children ${smallFigures.childrenUsPerTask.toFixed(1)} µs`);
  console.log(`one at a time × ${SEQUENTIAL_CALLS}, round trip parent → child → parent, back to back | ${GAP_MS} ms apart:`);
  console.log(`  ${line('prefork pool -c 2, echo', sequential.backToBack)} | ${line('', sequential.spaced).slice(2)}`);
  console.log(`  ${line('bare node over a pipe, 64 B', pipe.backToBack)} | ${line('', pipe.spaced).slice(2)}`);
  console.log(`prefork pool -c 1, echo of 250,000 ints (${(bigFigures.bytes / 1e6).toFixed(2)} MB each way) × ${BIG}: median ${bigFigures.medianMs.toFixed(1)} ms, fastest ${bigFigures.minMs.toFixed(1)} ms`);
}
