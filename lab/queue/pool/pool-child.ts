/**
 * Entry point of a pool child: a worker thread (threads pool) or a forked process (prefork pool).
 * It imports the task modules once, then runs jobs one at a time as the parent sends them.
 */
import { Socket } from 'node:net';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { execute, loadTaskModules } from './executor.js';
import { expiredJob } from './job.js';
import type { Job, JobOutcome } from './job.js';
import { PROCESS_DATA_FD, decodeJob, encodeResults, onFrames } from './process-wire.js';
import type { JobResult } from './process-wire.js';
import { packResult } from './result-bytes.js';
import { hop } from '../hops.js';
import type { ResultOnWire } from './result-bytes.js';

/**
 * Jobs travel in batches: every message is a write to the channel and a wake-up of the other side (most of a busy
 * worker's CPU with one message per task), so the pool gathers what one turn of its event loop sends a child. A
 * child, running one job at a time, sends each result as it has it (the pool reads those that meet in the pipe at
 * once); `results` is a list for the thread channel's and the wire's sake.
 */
export type ParentMessage = { type: 'jobs'; jobs: Job[] } | { type: 'shutdown' };
export type ChildMessage = { type: 'ready' } | { type: 'fatal'; message: string } | { type: 'results'; results: JobResult[] };
/** A worker thread's results on postMessage: large ones as bytes, moved (result-bytes.ts). */
export type ThreadChildMessage = Exclude<ChildMessage, { type: 'results' }> | { type: 'results'; results: ResultOnWire[] };

interface Channel {
  send(msg: ChildMessage): void;
  onMessage(handler: (msg: ParentMessage) => void): void;
  exit(code: number): void;
}

function channel(): Channel {
  if (!isMainThread && parentPort) {
    const port = parentPort;
    return {
      send: (msg) => {
        if (msg.type !== 'results') return port.postMessage(msg);
        const transfer: ArrayBuffer[] = [];
        const results = msg.results.map((r) => packResult(r.seq, r.outcome, transfer));
        port.postMessage({ type: 'results', results } satisfies ThreadChildMessage, transfer);
      },
      onMessage: (h) => port.on('message', h),
      // In a worker thread process.exit() ends only this thread.
      exit: (code) => process.exit(code),
    };
  }
  if (process.send) {
    const send = process.send.bind(process);
    const data = new Socket({ fd: PROCESS_DATA_FD, readable: true, writable: true });
    // A parent that is gone shows as a disconnect (below); a write to it then fails here, and is of no use.
    data.on('error', () => undefined);
    return {
      send: (msg) => {
        if (msg.type === 'results') data.write(encodeResults(msg.results));
        else send(msg);
      },
      onMessage: (h) => {
        process.on('message', (m) => h(m as ParentMessage));
        onFrames(data, decodeJob, (jobs) => h({ type: 'jobs', jobs }));
      },
      exit: (code) => process.exit(code),
    };
  }
  throw new Error('pool-child must be started by a pool (as a worker thread or a forked process)');
}

async function main(): Promise<void> {
  const ch = channel();
  const include: string[] = !isMainThread ? (workerData as { include: string[] }).include : JSON.parse(process.env.LAB_POOL_INCLUDE ?? '[]');
  if (isMainThread) {
    // A forked child whose parent goes away must not linger.
    process.on('disconnect', () => process.exit(0));
  }
  try {
    await loadTaskModules(include);
  } catch (err) {
    ch.send({ type: 'fatal', message: (err as Error).message });
    ch.exit(1);
    return;
  }
  // One job at a time; one more may wait here (sent ahead by the pool), started the moment the current one ends.
  const ahead: Job[] = [];
  let busy = false;
  const run = (job: Job): void => {
    busy = true;
    // A job that waited here behind another may have expired meanwhile: not run, as the pool does at a slot.
    const outcome: Promise<JobOutcome> = expiredJob(job) ? Promise.resolve({ kind: 'expired', runtimeMs: 0 }) : execute(job);
    void outcome.then((o) => {
      hop('child-ran', job.request.id);
      // Out at once, before the next job starts: a task that ends this process must not take the last one's result
      // with it. Waiting for the end of the turn gathered nothing (jobs run one at a time; a job sent ahead is started
      // here, after this write) and cost an echo's round trip a turn of a child that had just woken (issue 13).
      ch.send({ type: 'results', results: [{ seq: job.seq, outcome: o }] });
      const next = ahead.shift();
      if (next) run(next);
      else busy = false;
    });
  };
  ch.onMessage((msg) => {
    if (msg.type === 'shutdown') {
      ch.exit(0);
      return;
    }
    for (const job of msg.jobs) {
      hop('in-child', job.request.id);
      if (busy) ahead.push(job);
      else run(job);
    }
  });
  ch.send({ type: 'ready' });
}

void main();
