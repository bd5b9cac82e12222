/**
 * A pool of children (worker threads or forked processes), each running one job at a time — Celery's prefork
 * model. A child that dies mid-job yields a 'lost' outcome (WorkerLostError) and is replaced; a hard time limit
 * kills the child running the job (TimeLimitExceeded).
 */
import { EventEmitter } from 'node:events';
import { fork } from 'node:child_process';
import type { Duplex } from 'node:stream';
import { Worker as Thread } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { celeryException, toExceptionInfo } from '../errors.js';
import { backoffDelay } from '../../backoff.js';
import { expiredJob } from './job.js';
import type { Job, JobOutcome, Pool, PoolKind } from './job.js';
import type { ChildMessage, ParentMessage, ThreadChildMessage } from './pool-child.js';
import { PROCESS_DATA_FD, decodeResult, encodeJobs, onFrames } from './process-wire.js';
import { unpackResult } from './result-bytes.js';
import { hop } from '../hops.js';

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
    onMessage: (h) =>
      t.on('message', (m: ThreadChildMessage) => h(m.type === 'results' ? { type: 'results', results: m.results.map((r) => ({ seq: r.seq, outcome: unpackResult(r) })) } : m)),
    exited,
  };
}

function spawnProcess(include: string[]): ChildHandle {
  // Jobs and results on a pipe of their own, fd 3 = PROCESS_DATA_FD (process-wire.ts); node's IPC channel for the rest.
  const c = fork(CHILD_URL, [], { env: { ...process.env, LAB_POOL_INCLUDE: JSON.stringify(include) }, stdio: ['ignore', 'inherit', 'inherit', 'pipe', 'ipc'] });
  const data = c.stdio[PROCESS_DATA_FD] as Duplex;
  // A child that dies makes writes to it fail; its exit (below) is what the pool acts on.
  data.on('error', () => undefined);
  const exited = new Promise<string>((resolve) => {
    c.once('exit', (code, signal) => resolve(signal ? `process ${c.pid} killed by ${signal}` : `process ${c.pid} exited with code ${code}`));
    c.once('error', (e) => resolve(`process error: ${e.message}`));
  });
  return {
    pid: c.pid ?? null,
    post: (msg) => {
      if (msg.type === 'jobs') {
        if (!data.destroyed) data.write(encodeJobs(msg.jobs));
      } else if (c.connected) c.send(msg);
    },
    kill: () => void c.kill('SIGKILL'),
    signal: (sig) => void c.kill(sig),
    onMessage: (h) => {
      c.on('message', (m) => h(m as ChildMessage));
      onFrames(data, decodeResult, (results) => h({ type: 'results', results }));
    },
    exited,
  };
}

/** A job handed to a slot, with whoever waits for its outcome. */
interface Entry {
  job: Job;
  resolve: (o: JobOutcome) => void;
  onStart?: (pid: number | null) => void;
}

interface Slot {
  handle: ChildHandle;
  /** Jobs to send at the end of this turn of the event loop, in one message. */
  outbox: Job[];
  ready: boolean;
  /** The job the child runs now. */
  running: Entry | null;
  /** Jobs sent ahead, waiting in the child behind `running` (see PIPELINE_BELOW_MS); not started, not acked yet. */
  queued: Entry[];
  startedAt: number;
  hardTimer: NodeJS.Timeout | null;
  killedFor: string | null;
  /** Set by terminate(): the signal a revoke sent to this slot's job. */
  terminatedBy: string | null;
  /** Shrinking: leave once idle, without a replacement. */
  retiring: boolean;
}

/**
 * A job is sent to a busy child ahead of time only when both its task and the running one have taken less than this
 * (their recent mean): for such tasks the message hop to the child and back costs as much as the task itself, and
 * the child starts the next one without waiting for it. Longer tasks wait for a free child as before (fairness: a
 * job is never stuck behind a long one while another child is free).
 */
const PIPELINE_BELOW_MS = 5;
/**
 * How many jobs a busy child may hold ahead. On a loaded machine a process waits milliseconds to be scheduled, so one
 * job ahead is gone before the parent wakes to send the next; a few keep the child busy across that wait.
 */
const PIPELINE_DEPTH = 3;

export class ChildPool extends EventEmitter implements Pool {
  private readonly slots: Slot[] = [];
  private readonly waiting: Entry[] = [];
  private closing = false;
  private respawnFailures = 0;
  /** Recent mean runtime per task name (ms), to decide what may be sent ahead. */
  private readonly runtimes = new Map<string, number>();

  constructor(
    readonly kind: Extract<PoolKind, 'prefork' | 'threads'>,
    public concurrency: number,
    private readonly include: string[],
  ) {
    super();
  }

  get active(): number {
    let n = this.waiting.length;
    for (const s of this.slots) n += (s.running ? 1 : 0) + s.queued.length;
    return n;
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
    const slot: Slot = { handle, outbox: [], ready: false, running: null, queued: [], startedAt: 0, hardTimer: null, killedFor: null, terminatedBy: null, retiring: false };
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
        } else if (msg.type === 'results') {
          for (const r of msg.results) {
            if (!slot.running || r.seq !== slot.running.job.seq) continue;
            hop('from-child', slot.running.job.request.id);
            this.finish(slot, r.outcome);
          }
        }
      });
      void handle.exited.then((reason) => {
        const wasReady = slot.ready;
        this.slots.splice(this.slots.indexOf(slot), 1);
        // A job sent ahead never started (nor was acked): it goes to the next free child.
        this.waiting.unshift(...slot.queued.splice(0));
        if (slot.running) {
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

  private short(task: string): boolean {
    const ms = this.runtimes.get(task);
    return ms !== undefined && ms < PIPELINE_BELOW_MS;
  }

  private pump(): void {
    while (this.waiting.length > 0) {
      const idle = this.slots.find((s) => s.ready && !s.running && !s.retiring);
      // Sent ahead: to the child with the fewest waiting, so the children's queues stay even.
      let ahead: Slot | undefined;
      if (!idle && this.short(this.waiting[0].job.task)) {
        for (const s of this.slots) {
          if (s.ready && s.running && !s.retiring && s.queued.length < PIPELINE_DEPTH && this.short(s.running.job.task) && (!ahead || s.queued.length < ahead.queued.length)) ahead = s;
        }
      }
      const slot = idle ?? ahead;
      if (!slot) return;
      const entry = this.waiting.shift()!;
      if (expiredJob(entry.job)) {
        entry.onStart?.(slot.handle.pid);
        entry.resolve({ kind: 'expired', runtimeMs: 0 });
        continue;
      }
      if (idle) this.begin(slot, entry);
      else slot.queued.push(entry); // started (and acked) when the child takes it up
      this.send(slot, entry.job);
    }
  }

  private send(slot: Slot, job: Job): void {
    if (slot.outbox.length === 0) {
      setImmediate(() => {
        const jobs = slot.outbox;
        slot.outbox = [];
        if (jobs.length === 0) return;
        slot.handle.post({ type: 'jobs', jobs });
        for (const job of jobs) hop('to-child', job.request.id);
      });
    }
    slot.outbox.push(job);
  }

  /** The slot's child runs this job now: the moment Celery acks it, and when its hard time limit starts counting. */
  private begin(slot: Slot, entry: Entry): void {
    slot.running = entry;
    slot.startedAt = performance.now();
    slot.killedFor = null;
    slot.terminatedBy = null;
    entry.onStart?.(slot.handle.pid);
    const limit = entry.job.hardTimeLimit;
    if (limit) {
      slot.hardTimer = setTimeout(() => {
        slot.killedFor = `TimeLimitExceeded(${limit})`;
        slot.handle.kill();
      }, limit * 1000);
    }
  }

  private finish(slot: Slot, outcome: JobOutcome): void {
    if (slot.hardTimer) clearTimeout(slot.hardTimer);
    const entry = slot.running!;
    slot.running = null;
    slot.hardTimer = null;
    if (outcome.kind !== 'lost' && outcome.kind !== 'expired') {
      const prev = this.runtimes.get(entry.job.task);
      this.runtimes.set(entry.job.task, prev === undefined ? outcome.runtimeMs : prev * 0.8 + outcome.runtimeMs * 0.2);
    }
    // The child takes up the job sent ahead now: at once if it holds it already, else the moment it arrives (it
    // was sent before this result came back, and a child that is not busy starts what it receives).
    const next = slot.queued.shift();
    if (next) this.begin(slot, next);
    else if (slot.retiring) slot.handle.post({ type: 'shutdown' });
    entry.resolve(outcome);
    this.pump();
  }

  /** Pool growth by remote control (pool_grow): n more children. */
  async grow(n: number): Promise<void> {
    this.concurrency += n;
    await Promise.all(Array.from({ length: n }, () => this.spawn()));
  }

  /** pool_shrink: n children leave (idle ones now, busy ones after their jobs); at least one stays. */
  shrink(n: number): number {
    const staying = this.slots.filter((s) => !s.retiring);
    const leaving = Math.max(0, Math.min(n, staying.length - 1));
    const order = [...staying.filter((s) => !s.running), ...staying.filter((s) => s.running)];
    for (const slot of order.slice(0, leaving)) {
      slot.retiring = true;
      if (!slot.running) slot.handle.post({ type: 'shutdown' });
    }
    this.concurrency -= leaving;
    return leaving;
  }

  /** revoke --terminate: signal the child running job `seq` (prefork: that signal; threads: terminated). */
  terminate(seq: number, signal: NodeJS.Signals): 'terminated' | 'unknown' {
    const slot = this.slots.find((s) => s.running?.job.seq === seq);
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
