/**
 * Entry point of a pool child: a worker thread (threads pool) or a forked process (prefork pool).
 * It imports the task modules once, then runs jobs one at a time as the parent sends them.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { execute, loadTaskModules } from './executor.js';
import { expiredJob } from './job.js';
import type { Job, JobOutcome } from './job.js';

export type ParentMessage = { type: 'job'; job: Job } | { type: 'shutdown' };
export type ChildMessage = { type: 'ready' } | { type: 'fatal'; message: string } | { type: 'result'; seq: number; outcome: Awaited<ReturnType<typeof execute>> };

interface Channel {
  send(msg: ChildMessage): void;
  onMessage(handler: (msg: ParentMessage) => void): void;
  exit(code: number): void;
}

function channel(): Channel {
  if (!isMainThread && parentPort) {
    const port = parentPort;
    return {
      send: (msg) => port.postMessage(msg),
      onMessage: (h) => port.on('message', h),
      // In a worker thread process.exit() ends only this thread.
      exit: (code) => process.exit(code),
    };
  }
  if (process.send) {
    const send = process.send.bind(process);
    return {
      send: (msg) => send(msg),
      onMessage: (h) => process.on('message', (m) => h(m as ParentMessage)),
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
      const next = ahead.shift();
      ch.send({ type: 'result', seq: job.seq, outcome: o });
      if (next) run(next);
      else busy = false;
    });
  };
  ch.onMessage((msg) => {
    if (msg.type === 'shutdown') {
      ch.exit(0);
      return;
    }
    if (busy) ahead.push(msg.job);
    else run(msg.job);
  });
  ch.send({ type: 'ready' });
}

void main();
