/**
 * A pool of children (worker threads or forked processes), each running one job at a time — Celery's prefork
 * model. A child that dies mid-job yields a 'lost' outcome (WorkerLostError) and is replaced; a hard time limit
 * kills the child running the job (TimeLimitExceeded).
 */
import { EventEmitter } from 'node:events';
import { fork } from 'node:child_process';
import { Worker as Thread } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { celeryException, toExceptionInfo } from '../errors.js';
import { backoffDelay } from '../../backoff.js';
import { expiredJob } from './job.js';
import type { Job, JobOutcome, Pool, PoolKind } from './job.js';
import type { ChildMessage, ParentMessage } from './pool-child.js';

const CHILD_URL = new URL('./pool-child.js', import.meta.url);

interface ChildHandle {
  readonly pid: number | null;
  post(msg: ParentMessage): void;
  kill(): void;
  /** Send a signal (revoke --terminate); a thread can only be terminated. */
  signal(sig: NodeJS.Signals): void;
  onMessage(h: (msg: ChildMessage) => void): void;
  /** Resolves once, with why the child went away. */
  readonly exited: Promise<string>;
}

function spawnThread(include: string[]): ChildHandle {
  const t = new Thread(CHILD_URL, { workerData: { include } });
  let lastError = '';
  t.on('error', (e) => (lastError = e.message));
  const exited = new Promise<string>((resolve) => t.once('exit', (code) => resolve(lastError || `thread exited with code ${code}`)));
  return {
    pid: null,
    post: (msg) => t.postMessage(msg),
    kill: () => void t.terminate(),
    signal: () => void t.terminate(),
    onMessage: (h) => t.on('message', h),
    exited,
  };
}

function spawnProcess(include: string[]): ChildHandle {
  const c = fork(CHILD_URL, [], { serialization: 'advanced', env: { ...process.env, LAB_POOL_INCLUDE: JSON.stringify(include) }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<string>((resolve) => {
    c.once('exit', (code, signal) => resolve(signal ? `process ${c.pid} killed by ${signal}` : `process ${c.pid} exited with code ${code}`));
    c.once('error', (e) => resolve(`process error: ${e.message}`));
  });
  return {
    pid: c.pid ?? null,
    post: (msg) => {
      if (c.connected) c.send(msg);
    },
    kill: () => void c.kill('SIGKILL'),
    signal: (sig) => void c.kill(sig),
    onMessage: (h) => c.on('message', (m) => h(m as ChildMessage)),
    exited,
  };
}

interface Slot {
  handle: ChildHandle;
  ready: boolean;
  job: Job | null;
  startedAt: number;
  resolve: ((o: JobOutcome) => void) | null;
  hardTimer: NodeJS.Timeout | null;
  killedFor: string | null;
  /** Set by terminate(): the signal a revoke sent to this slot's job. */
  terminatedBy: string | null;
  /** Shrinking: leave once idle, without a replacement. */
  retiring: boolean;
}

export class ChildPool extends EventEmitter implements Pool {
  private readonly slots: Slot[] = [];
  private readonly waiting: { job: Job; resolve: (o: JobOutcome) => void; onStart?: (pid: number | null) => void }[] = [];
  private closing = false;
  private respawnFailures = 0;

  constructor(
    readonly kind: Extract<PoolKind, 'prefork' | 'threads'>,
    public concurrency: number,
    private readonly include: string[],
  ) {
    super();
  }

  get active(): number {
    return this.waiting.length + this.slots.filter((s) => s.job).length;
  }

  /** Pids of prefork children (for status output and for tests that kill one). */
  get pids(): number[] {
    return this.slots.map((s) => s.handle.pid).filter((p): p is number => p !== null);
  }

  async start(): Promise<void> {
    await Promise.all(Array.from({ length: this.concurrency }, () => this.spawn()));
  }

  private spawn(): Promise<void> {
    const handle = this.kind === 'threads' ? spawnThread(this.include) : spawnProcess(this.include);
    const slot: Slot = { handle, ready: false, job: null, startedAt: 0, resolve: null, hardTimer: null, killedFor: null, terminatedBy: null, retiring: false };
    this.slots.push(slot);
    return new Promise<void>((resolve, reject) => {
      handle.onMessage((msg) => {
        if (msg.type === 'ready') {
          slot.ready = true;
          this.respawnFailures = 0;
          resolve();
          this.pump();
        } else if (msg.type === 'fatal') {
          reject(new Error(msg.message));
        } else if (msg.type === 'result' && slot.job && msg.seq === slot.job.seq) {
          this.finish(slot, msg.outcome);
        }
      });
      void handle.exited.then((reason) => {
        const wasReady = slot.ready;
        this.slots.splice(this.slots.indexOf(slot), 1);
        if (slot.job) {
          const type = slot.terminatedBy ? 'Terminated' : slot.killedFor ? 'TimeLimitExceeded' : 'WorkerLostError';
          const message = slot.terminatedBy ? `Terminated(${slot.terminatedBy})` : (slot.killedFor ?? `Worker exited prematurely: ${reason}.`);
          this.finish(slot, { kind: 'lost', exc: toExceptionInfo(celeryException(type, message)), runtimeMs: performance.now() - slot.startedAt });
        }
        if (!wasReady) reject(new Error(`pool child failed to start: ${reason}`));
        if (!this.closing && wasReady && !slot.retiring) this.respawn();
      });
    });
  }

  private respawn(): void {
    // A child that keeps dying at start must not spin the CPU: back off, report, keep trying.
    const delay = this.respawnFailures ? backoffDelay(this.respawnFailures) : 0;
    setTimeout(() => {
      if (this.closing) return;
      this.spawn().catch((err: Error) => {
        this.respawnFailures++;
        if (this.listenerCount('error')) this.emit('error', err);
        this.respawn();
      });
    }, delay).unref();
  }

  run(job: Job, onStart?: (pid: number | null) => void): Promise<JobOutcome> {
    return new Promise((resolve) => {
      this.waiting.push({ job, resolve, onStart });
      this.pump();
    });
  }

  private pump(): void {
    while (this.waiting.length > 0) {
      const slot = this.slots.find((s) => s.ready && !s.job && !s.retiring);
      if (!slot) return;
      const { job, resolve, onStart } = this.waiting.shift()!;
      onStart?.(slot.handle.pid);
      if (expiredJob(job)) {
        resolve({ kind: 'expired', runtimeMs: 0 });
        continue;
      }
      slot.job = job;
      slot.resolve = resolve;
      slot.startedAt = performance.now();
      slot.killedFor = null;
      slot.terminatedBy = null;
      if (job.hardTimeLimit) {
        slot.hardTimer = setTimeout(() => {
          slot.killedFor = `TimeLimitExceeded(${job.hardTimeLimit})`;
          slot.handle.kill();
        }, job.hardTimeLimit * 1000);
      }
      slot.handle.post({ type: 'job', job });
    }
  }

  private finish(slot: Slot, outcome: JobOutcome): void {
    if (slot.hardTimer) clearTimeout(slot.hardTimer);
    const resolve = slot.resolve;
    slot.job = null;
    slot.resolve = null;
    slot.hardTimer = null;
    resolve?.(outcome);
    if (slot.retiring) slot.handle.post({ type: 'shutdown' });
    this.pump();
  }

  /** Pool growth by remote control (pool_grow): n more children. */
  async grow(n: number): Promise<void> {
    this.concurrency += n;
    await Promise.all(Array.from({ length: n }, () => this.spawn()));
  }

  /** pool_shrink: n children leave (idle ones now, busy ones after their job); at least one stays. */
  shrink(n: number): number {
    const staying = this.slots.filter((s) => !s.retiring);
    const leaving = Math.min(n, staying.length - 1);
    const order = [...staying.filter((s) => !s.job), ...staying.filter((s) => s.job)];
    for (const slot of order.slice(0, Math.max(0, leaving))) {
      slot.retiring = true;
      if (!slot.job) slot.handle.post({ type: 'shutdown' });
    }
    this.concurrency -= Math.max(0, leaving);
    return Math.max(0, leaving);
  }

  /** revoke --terminate: signal the child running job `seq` (prefork: that signal; threads: terminated). */
  terminate(seq: number, signal: NodeJS.Signals): 'terminated' | 'unknown' {
    const slot = this.slots.find((s) => s.job?.seq === seq);
    if (!slot) return 'unknown';
    slot.terminatedBy = signal;
    slot.handle.signal(signal);
    return 'terminated';
  }

  async close(force = false): Promise<void> {
    this.closing = true;
    if (!force) {
      while (this.active > 0) await new Promise((r) => setTimeout(r, 10));
    }
    const exits = this.slots.map((s) => {
      if (force) s.handle.kill();
      else s.handle.post({ type: 'shutdown' });
      return s.handle.exited;
    });
    const timer = setTimeout(() => this.slots.forEach((s) => s.handle.kill()), 3000);
    await Promise.all(exits);
    clearTimeout(timer);
    for (const w of this.waiting.splice(0)) w.resolve({ kind: 'lost', exc: toExceptionInfo(celeryException('WorkerLostError', 'pool closed before the task ran')), runtimeMs: 0 });
  }
}
