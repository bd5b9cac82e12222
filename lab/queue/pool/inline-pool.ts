/** The async pool: tasks run on the worker's own event loop, up to `concurrency` at once (I/O-bound tasks). */
import { EventEmitter } from 'node:events';
import { execute, loadTaskModules } from './executor.js';
import { expiredJob } from './job.js';
import type { Job, JobOutcome, Pool } from './job.js';

export class InlinePool extends EventEmitter implements Pool {
  readonly kind = 'async' as const;
  private running = 0;
  private readonly waiting: { job: Job; resolve: (o: JobOutcome) => void; onStart?: () => void }[] = [];

  constructor(
    readonly concurrency: number,
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

  run(job: Job, onStart?: () => void): Promise<JobOutcome> {
    return new Promise((resolve) => {
      this.waiting.push({ job, resolve, onStart });
      this.pump();
    });
  }

  private pump(): void {
    while (this.running < this.concurrency && this.waiting.length > 0) {
      const { job, resolve, onStart } = this.waiting.shift()!;
      onStart?.();
      if (expiredJob(job)) {
        resolve({ kind: 'expired', runtimeMs: 0 });
        continue;
      }
      this.running++;
      void execute(job).then((outcome) => {
        this.running--;
        resolve(outcome);
        this.pump();
      });
    }
  }

  async close(force = false): Promise<void> {
    if (!force) while (this.active > 0) await new Promise((r) => setTimeout(r, 10));
  }
}
