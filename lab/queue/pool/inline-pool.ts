/** The async pool: tasks run on the worker's own event loop, up to `concurrency` at once (I/O-bound tasks). */
import { EventEmitter } from 'node:events';
import { execute, loadTaskModules } from './executor.js';
import { expiredJob } from './job.js';
import { celeryException } from '../errors.js';
import type { Job, JobOutcome, Pool } from './job.js';

export class InlinePool extends EventEmitter implements Pool {
  readonly kind = 'async' as const;
  private running = 0;
  private readonly waiting: { job: Job; resolve: (o: JobOutcome) => void; onStart?: (pid: number | null) => void }[] = [];
  /** Running jobs' abort controllers: revoke --terminate can only signal a task on this loop, not kill it. */
  private readonly aborts = new Map<number, AbortController>();

  constructor(
    public concurrency: number,
    private readonly include: string[],
  ) {
    super();
  }

  get active(): number {
    return this.running + this.waiting.length;
  }

  async start(): Promise<void> {
    await loadTaskModules(this.include);
  }

  run(job: Job, onStart?: (pid: number | null) => void): Promise<JobOutcome> {
    return new Promise((resolve) => {
      this.waiting.push({ job, resolve, onStart });
      this.pump();
    });
  }

  private pump(): void {
    while (this.running < this.concurrency && this.waiting.length > 0) {
      const { job, resolve, onStart } = this.waiting.shift()!;
      onStart?.(process.pid);
      if (expiredJob(job)) {
        resolve({ kind: 'expired', runtimeMs: 0 });
        continue;
      }
      this.running++;
      const abort = new AbortController();
      this.aborts.set(job.seq, abort);
      void execute(job, abort.signal).then((outcome) => {
        this.aborts.delete(job.seq);
        this.running--;
        resolve(outcome);
        this.pump();
      });
    }
  }

  terminate(seq: number, signal: NodeJS.Signals): 'signalled' | 'unknown' {
    const abort = this.aborts.get(seq);
    if (!abort) return 'unknown';
    abort.abort(celeryException('Terminated', `Terminated(${signal})`));
    return 'signalled';
  }

  async grow(n: number): Promise<void> {
    this.concurrency += n;
    this.pump();
  }

  shrink(n: number): number {
    const leaving = Math.max(0, Math.min(n, this.concurrency - 1));
    this.concurrency -= leaving;
    return leaving;
  }

  async close(force = false): Promise<void> {
    if (!force) while (this.active > 0) await new Promise((r) => setTimeout(r, 10));
  }
}
