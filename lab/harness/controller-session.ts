/**
 * A run on a provisioned lab with the driver on this machine (the controller) instead of the master host: for
 * scenarios that start their own workers (the lessons), which only the controller can do — it holds the provider.
 * Apps reach the broker and backend by address, as `lab up`'s canary does; worker groups are `lab worker`
 * processes on the lab's workers hosts, recorded in the ledger before they start and removed when they stop, so a
 * `lab down` after a crash still finds them. The lab's lock is held for the run (no `lab up`/`down` meanwhile).
 */
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import type { App } from '../queue/index.js';
import { acquireLock } from '../topology/state.js';
import type { OpenLab } from '../orchestrator/lab-ref.js';
import type { ProcessRef } from '../providers/provider.js';
import { startGroupProcess } from '../services/worker-group.js';
import { workerEnv } from '../services/workers.js';
import type { LabSession } from './lab-session.js';
import { labInfoOf } from './run-on-lab.js';
import { checkGroupName, groupHostname } from './worker-groups.js';
import type { WorkerGroup, WorkerGroups, WorkerGroupSpec } from './worker-groups.js';

export async function openControllerSession(lab: OpenLab): Promise<LabSession> {
  const release = await acquireLock(lab.ref.dir, lab.ref.name);
  const apps = new Set<App>();
  const groups = new HostWorkerGroups(lab);
  return {
    info: { ...labInfoOf(lab), driver: 'controller' },
    quotesUrl: lab.urls.quotesHere,
    workers: groups,
    bind(app: App) {
      app.configFromObject({ broker_url: lab.urls.brokerHere, result_backend: lab.urls.backendHere });
      apps.add(app);
    },
    async close({ cold = false } = {}) {
      try {
        await groups.stopAll({ cold });
        await Promise.all([...apps].map((a) => a.close()));
      } finally {
        await release();
      }
    },
  };
}

class HostWorkerGroups implements WorkerGroups {
  readonly where = 'hosts' as const;
  /** Distinguishes this run's groups in ledger keys and log names from another run's. */
  private readonly run = randomBytes(3).toString('hex');
  private readonly running = new Map<string, { refs: ProcessRef[] }>();

  constructor(private readonly lab: OpenLab) {}

  async start(spec: WorkerGroupSpec): Promise<WorkerGroup> {
    checkGroupName(spec.name);
    const t0 = performance.now();
    const hosts = this.lab.topology.roleHosts('workers').map((h) => h.name);
    const id = `${spec.name}-${this.run}`;
    const refs: ProcessRef[] = [];
    const entry = { refs };
    this.running.set(id, entry);
    const started = await Promise.allSettled(
      hosts.map((host) =>
        startGroupProcess(this.lab.provider, {
          host,
          key: `proc:${host}:group:${id}`,
          nodeName: groupHostname(host, spec.name),
          queues: spec.queues,
          pool: spec.pool,
          concurrency: spec.concurrency,
          acksLate: spec.acksLate,
          prefetchMultiplier: spec.prefetchMultiplier,
          logName: `group-${id}`,
          env: workerEnv(this.lab.urls),
        }).then((ref) => void refs.push(ref)),
      ),
    );
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await this.stopGroup(id, false);
      // A worker that failed to start was stopped where it failed; its ledger entry goes too.
      await Promise.all(hosts.map((host) => this.lab.ledger.remove(`proc:${host}:group:${id}`)));
      throw failed.reason;
    }
    let stopped: Promise<void> | null = null;
    return {
      spec,
      hostnames: hosts.map((h) => groupHostname(h, spec.name)),
      startMs: performance.now() - t0,
      stop: () => (stopped ??= this.stopGroup(id, false)),
    };
  }

  private async stopGroup(id: string, cold: boolean): Promise<void> {
    const entry = this.running.get(id);
    if (!entry) return;
    this.running.delete(id);
    // A warm stop lets running tasks finish (SIGTERM); a cold one (Ctrl-C) does not wait long.
    await Promise.all(
      entry.refs.map(async (ref) => {
        await this.lab.provider.stop(ref, cold ? 1000 : 10_000);
        await this.lab.ledger.remove(ref.key);
      }),
    );
  }

  async stopAll(options: { cold?: boolean } = {}): Promise<void> {
    await Promise.all([...this.running.keys()].map((id) => this.stopGroup(id, options.cold ?? false)));
  }
}
