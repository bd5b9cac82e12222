/**
 * Peer workers on this machine, for a run against a services session (RabbitMQ and Redis that already run): the
 * same recipes as on a lab's hosts (services/worker-group.ts peerRecipe), started as child processes in their own
 * process groups, ready at the same log lines, stopped (SIGTERM to the group, SIGKILL after a grace period) and
 * cleaned up (the run's queue) when the session closes.
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { ServiceError } from '../errors.js';
import { peerRecipe } from '../services/worker-group.js';
import type { PeerHost, PeerName, PeerProcess } from '../services/worker-group.js';
import type { PeerEndpoint } from './peers.js';

export interface LocalPeerOptions {
  python: string;
  peersDir: string;
  host: { name: string; address: string };
  /** Worker processes per implementation (Celery's -c, RQ's and Pyro's process count). */
  concurrency: number;
  brokerUrl: string;
  backendUrl: string;
  quotesUrl: () => string | null;
  pyroKey: string;
}

class LocalProcess {
  private out = '';
  private readonly child: ChildProcess;
  readonly exited: Promise<void>;
  private done = false;

  constructor(readonly p: PeerProcess) {
    this.child = spawn(p.argv[0]!, p.argv.slice(1), { cwd: p.cwd, env: { ...process.env, ...p.env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (s: string): void => {
      this.out = (this.out + s).slice(-32_000);
    };
    this.child.stdout!.setEncoding('utf8').on('data', keep);
    this.child.stderr!.setEncoding('utf8').on('data', keep);
    this.exited = new Promise((resolve) => {
      this.child.once('error', (e) => {
        keep(`\n${e.message}`);
        this.done = true;
        resolve();
      });
      this.child.once('close', () => {
        this.done = true;
        resolve();
      });
    });
  }

  async ready(timeoutMs: number): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = this.p.ready.exec(this.out);
      if (m) return m;
      const tail = this.out.trim().split('\n').slice(-12).join('\n');
      if (this.done) throw new ServiceError(`${this.p.argv.slice(0, 4).join(' ')} (${this.p.name}) exited before it was ready\n--- its last lines ---\n${tail}`, { host: this.p.host, code: 'E_PROCESS_EXITED' });
      if (Date.now() > deadline) throw new ServiceError(`${this.p.argv.slice(0, 4).join(' ')} (${this.p.name}) was not ready within ${Math.round(timeoutMs / 1000)} s\n--- its last lines ---\n${tail}`, { host: this.p.host, code: 'E_NOT_READY' });
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** SIGTERM to its group (a warm shutdown: Celery and RQ finish what they run), SIGKILL after graceMs. */
  async stop(graceMs: number): Promise<void> {
    if (this.done || this.child.pid === undefined) return;
    const kill = (sig: NodeJS.Signals): void => {
      try {
        process.kill(-this.child.pid!, sig);
      } catch {
        // gone
      }
    };
    kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const late = await Promise.race([this.exited.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), graceMs)))]);
    clearTimeout(timer);
    // The group too: pool children that outlived their parent.
    kill('SIGKILL');
    if (late) await this.exited;
  }
}

export class LocalPeerGroups {
  private readonly run = randomBytes(3).toString('hex');
  private readonly groups: { first?: LocalProcess; workers: LocalProcess[]; cleanup?: PeerProcess }[] = [];

  constructor(private readonly o: LocalPeerOptions) {}

  get pyroKey(): string {
    return this.o.pyroKey;
  }

  async start(impl: PeerName): Promise<PeerEndpoint> {
    const t0 = performance.now();
    const host: PeerHost = { ...this.o.host, concurrency: this.o.concurrency, peersDir: this.o.peersDir };
    const recipe = peerRecipe({
      impl,
      run: this.run,
      python: this.o.python,
      workers: [host],
      nameServer: host,
      brokerUrl: this.o.brokerUrl,
      backendUrl: this.o.backendUrl,
      quotesUrl: this.o.quotesUrl() ?? '',
      pyroKey: this.o.pyroKey,
    });
    const group: { first?: LocalProcess; workers: LocalProcess[]; cleanup?: PeerProcess } = { workers: [], cleanup: recipe.cleanup };
    this.groups.push(group);
    let first: RegExpExecArray | null = null;
    if (recipe.first) {
      group.first = new LocalProcess(recipe.first);
      first = await group.first.ready(60_000);
    }
    const workers = recipe.workers(first).map((p) => new LocalProcess(p));
    group.workers.push(...workers);
    await Promise.all(workers.map((w) => w.ready(60_000)));
    return {
      env: recipe.driverEnv(first),
      workers: { command: recipe.command, processes: workers.length, hosts: [this.o.host.name], startMs: performance.now() - t0 },
    };
  }

  /** Stop every group (workers before Pyro's name server), then remove what each run left on the broker. */
  async stopAll(options: { cold?: boolean } = {}): Promise<void> {
    const groups = this.groups.splice(0);
    await Promise.all(
      groups.map(async (g) => {
        const grace = options.cold ? 1000 : 10_000;
        await Promise.all(g.workers.map((w) => w.stop(grace)));
        await g.first?.stop(grace);
        if (g.cleanup) await cleanup(g.cleanup);
      }),
    );
  }
}

function cleanup(p: PeerProcess): Promise<void> {
  return new Promise((resolve) => {
    execFile(p.argv[0]!, p.argv.slice(1), { cwd: p.cwd, env: { ...process.env, ...p.env }, timeout: 60_000 }, () => resolve());
  });
}
