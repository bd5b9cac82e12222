/**
 * Worker groups as Workers in this process: the embedded lab's (on its memory transports) and a run against given
 * services (a broker and backend that already run). Each group has its own App, so its settings (acks_late,
 * prefetch) are its own; the tasks come from the scenario's task module, as a worker process would load them.
 */
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { App, Worker } from '../queue/index.js';
import type { MemoryTransports } from '../queue/index.js';
import { checkGroupName, groupHostname } from './worker-groups.js';
import type { WorkerGroup, WorkerGroups, WorkerGroupSpec } from './worker-groups.js';

export class InProcessWorkerGroups implements WorkerGroups {
  readonly where = 'embedded' as const;
  private readonly running = new Set<Worker>();

  constructor(
    private readonly tasksModule: URL,
    /** broker_url and result_backend of the groups' apps. */
    private readonly urls: { broker_url: string; result_backend: string },
    private readonly memory?: MemoryTransports,
  ) {}

  async start(spec: WorkerGroupSpec): Promise<WorkerGroup> {
    checkGroupName(spec.name);
    const t0 = performance.now();
    const config: Record<string, unknown> = { ...this.urls };
    if (spec.acksLate !== undefined) config.task_acks_late = spec.acksLate;
    if (spec.prefetchMultiplier !== undefined) config.worker_prefetch_multiplier = spec.prefetchMultiplier;
    const app = new App(`lab-group-${spec.name}`, { include: [this.tasksModule], config, memory: this.memory });
    const name = groupHostname(hostname(), spec.name);
    const worker = new Worker(app, { pool: spec.pool, concurrency: spec.concurrency, queues: spec.queues, hostname: name });
    try {
      await worker.start();
    } catch (err) {
      await app.close().catch(() => undefined);
      throw err;
    }
    this.running.add(worker);
    const running = this.running;
    let stopped: Promise<void> | null = null;
    return {
      spec,
      hostnames: [name],
      startMs: performance.now() - t0,
      stop() {
        stopped ??= (async () => {
          running.delete(worker);
          await worker.stop({ warm: true });
          await app.close();
        })();
        return stopped;
      },
    };
  }

  async stopAll(options: { cold?: boolean } = {}): Promise<void> {
    const all = [...this.running];
    this.running.clear();
    await Promise.all(all.map((w) => w.stop({ warm: !options.cold }).then(() => w.app.close())));
  }
}
