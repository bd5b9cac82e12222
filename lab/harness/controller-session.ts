/**
 * A run on a provisioned lab with the driver on this machine (the controller) instead of the master host: for
 * scenarios that start their own workers (the lessons), which only the controller can do — it holds the provider.
 * Apps reach the broker and backend by address, as `lab up`'s canary does; worker groups are `lab worker`
 * processes on the lab's workers hosts, recorded in the ledger before they start and removed when they stop, so a
 * `lab down` after a crash still finds them. The lab's lock is held for the run (no `lab up`/`down` meanwhile).
 *
 * A peer implementation's group (spec.implementation celery, rq or pyro) is the chapter's processes instead
 * (services/worker-group.ts peerRecipe): Pyro's name server on the broker host first, then the workers on every
 * workers host, each in the ledger before it starts and ready at its log line; stopped workers first, then the name
 * server, then the run's queue removed from the broker.
 */
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import type { App } from '../queue/index.js';
import { acquireLock } from '../topology/state.js';
import type { OpenLab } from '../orchestrator/lab-ref.js';
import type { ProcessRef } from '../providers/provider.js';
import { peerRecipe, runPeerOnce, startGroupProcess, startPeerProcess } from '../services/worker-group.js';
import type { PeerHost, PeerName, PeerProcess } from '../services/worker-group.js';
import { workerEnv } from '../services/workers.js';
import type { LabSession } from './lab-session.js';
import { labInfoOf } from './run-on-lab.js';
import { providerHostFiles } from './host-files.js';
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
    files: providerHostFiles(lab),
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

interface RunningGroup {
  refs: ProcessRef[];
  /** A peer's process that stops last (Pyro's name server). */
  last?: ProcessRef;
  /** Run after the group stopped (a peer's queue removed from the broker). */
  cleanup?: PeerProcess;
}

export class HostWorkerGroups implements WorkerGroups {
  readonly where = 'hosts' as const;
  /** Distinguishes this run's groups in ledger keys and log names from another run's. */
  private readonly run = randomBytes(3).toString('hex');
  private readonly running = new Map<string, RunningGroup>();

  /** `peers`: the interpreter and Pyro's key, for peer groups. */
  constructor(
    private readonly lab: OpenLab,
    private readonly peers: { python: string; pyroKey?: string } | null = null,
  ) {}

  async start(spec: WorkerGroupSpec): Promise<WorkerGroup> {
    checkGroupName(spec.name);
    if (spec.implementation && spec.implementation !== 'lab') return this.startPeer(spec, spec.implementation);
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

  private async startPeer(spec: WorkerGroupSpec, impl: PeerName): Promise<WorkerGroup> {
    if (!this.peers) throw new TypeError('this session starts no peer groups');
    const t0 = performance.now();
    const { provider, topology } = this.lab;
    const host = (name: string, concurrency: number): PeerHost => {
      const info = provider.host(name);
      return { name, address: info.address, concurrency, peersDir: `${info.labRoot}/peers`, workDir: info.workDir };
    };
    const workers = topology.roleHosts('workers').map((h) => host(h.name, spec.concurrency > 0 ? spec.concurrency : h.concurrency));
    const env = workerEnv(this.lab.urls);
    const recipe = peerRecipe({
      impl,
      run: this.run,
      python: this.peers.python,
      workers,
      nameServer: impl === 'pyro' ? host(topology.roleHost('broker').name, 1) : undefined,
      brokerUrl: env.LAB_BROKER_URL!,
      backendUrl: env.LAB_BACKEND_URL!,
      quotesUrl: env.LAB_QUOTES_URL!,
      pyroKey: this.peers.pyroKey,
    });
    const id = `${spec.name}-${this.run}`;
    const entry: RunningGroup = { refs: [], cleanup: recipe.cleanup };
    this.running.set(id, entry);
    const key = (p: PeerProcess): string => `proc:${p.host}:group:${id}-${p.name}`;
    const start = (p: PeerProcess): Promise<{ ref: ProcessRef; match: RegExpExecArray }> =>
      startPeerProcess(provider, p, { key: key(p), logFile: `${provider.host(p.host).workDir}/logs/group-${id}-${p.name}.log` }).catch(async (err: unknown) => {
        // Stopped where it failed: its ledger entry goes too.
        await this.lab.ledger.remove(key(p));
        throw err;
      });
    try {
      let first: RegExpExecArray | null = null;
      if (recipe.first) {
        const ns = await start(recipe.first);
        entry.last = ns.ref;
        first = ns.match;
      }
      const procs = recipe.workers(first);
      const started = await Promise.allSettled(procs.map((p) => start(p).then((r) => void entry.refs.push(r.ref))));
      const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      let stopped: Promise<void> | null = null;
      return {
        spec,
        hostnames: workers.map((w) => w.name),
        startMs: performance.now() - t0,
        peer: { env: recipe.driverEnv(first), workers: { command: recipe.command, processes: procs.length, hosts: workers.map((w) => w.name), startMs: performance.now() - t0 } },
        stop: () => (stopped ??= this.stopGroup(id, false)),
      };
    } catch (err) {
      await this.stopGroup(id, true);
      throw err;
    }
  }

  private async stopGroup(id: string, cold: boolean): Promise<void> {
    const entry = this.running.get(id);
    if (!entry) return;
    this.running.delete(id);
    // A warm stop lets running tasks finish (SIGTERM); a cold one (Ctrl-C) does not wait long.
    const stop = async (ref: ProcessRef): Promise<void> => {
      await this.lab.provider.stop(ref, cold ? 1000 : 10_000);
      await this.lab.ledger.remove(ref.key);
    };
    await Promise.all(entry.refs.map(stop));
    if (entry.last) await stop(entry.last);
    // What the run left on the broker (a peer's queue), once nothing consumes it. Best effort: lab down removes the
    // lab's broker anyway. Spawned, not exec'd: its URLs go in the environment as the workers' do.
    const c = entry.cleanup;
    if (c) {
      const key = `proc:${c.host}:group:${id}-${c.name}`;
      await runPeerOnce(this.lab.provider, c, { key, logFile: `${this.lab.provider.host(c.host).workDir}/logs/group-${id}-${c.name}.log` });
      await this.lab.ledger.remove(key);
    }
  }

  async stopAll(options: { cold?: boolean } = {}): Promise<void> {
    await Promise.all([...this.running.keys()].map((id) => this.stopGroup(id, options.cold ?? false)));
  }
}
