/**
 * The worker pool on each workers host: `lab worker -A scenarios` — plus the user's task modules (inventory
 * `tasks:`) and settings module (`config:`), where the provider put them on the host — with the host's concurrency,
 * pool and queues, connected to the lab's broker and backend by host name (URLs with passwords go through the
 * environment, never the command line).
 *
 * Ready when a canary task makes the round trip through the lab: `lab.worker_info` (worker-info.ts), sent to this
 * host's worker alone (its worker-direct queue: the workers run with LAB_WORKER_DIRECT=1) and answered by it,
 * saying which modules it loaded (with their digests as it read them) and which tasks it has.
 * Those must be the inventory's, as they are on this machine now: a worker that runs an older copy of them (a
 * `lab up` again after an edit) is restarted once; a module that does not load names the host, the module and the
 * error (the worker has exited: nothing of it keeps running).
 */
import { posix } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ServiceError, hasCode } from '../errors.js';
import { App, workerDirect } from '../queue/index.js';
import type { SendOptions } from '../queue/index.js';
import type { ProcessRef } from '../providers/provider.js';
import { fileDigest } from '../providers/user-modules.js';
import { SERVICE_DEFAULTS } from '../topology/topology.js';
import type { HostSpec } from '../topology/topology.js';
import { layer, literalRe } from './service.js';
import type { LabUrls, Service, ServiceContext } from './service.js';
import { WORKER_DIRECT_ENV, WORKER_INFO_MODULE, WORKER_INFO_TASK } from './worker-info.js';
import type { WorkerInfo } from './worker-info.js';
import { workerArgv } from './worker-group.js';
import { startService } from './supervision.js';

/** What a lab worker on a host finds in its environment: the broker, the backend, the quote server. */
export function workerEnv(urls: LabUrls): Record<string, string> {
  return { LAB_BROKER_URL: urls.brokerInLab, LAB_BACKEND_URL: urls.backendInLab, LAB_QUOTES_URL: urls.quotesInLab };
}

/** The node name of the lab's workers on a host. */
export function workersNodeName(host: string): string {
  return `celery@${host}`;
}

/** A module of the user's as a host's workers should have it. */
interface ExpectedModule {
  role: 'tasks' | 'config';
  /** On this machine (what the inventory names). */
  source: string;
  /** On the host (the same path on local and netns; shipped on ssh and docker). */
  hostPath: string;
  url: string;
  sha256: string;
}

async function expectedModules(ctx: ServiceContext, host: Readonly<HostSpec>): Promise<ExpectedModule[]> {
  const onHost = ctx.provider.host(host.name).modules;
  if (!onHost) return [];
  const pairs: [ExpectedModule['role'], string, string][] = (host.tasks ?? []).map((source, i) => ['tasks', source, onHost.tasks[i]!]);
  if (host.config && onHost.config) pairs.push(['config', host.config, onHost.config]);
  return Promise.all(
    pairs.map(async ([role, source, hostPath]) => {
      const sha256 = await fileDigest(source).catch((err: NodeJS.ErrnoException) => {
        throw new ServiceError(`cannot read ${source} (${err.code ?? err.message}); it is in the inventory's ${role}:`, { host: host.name, code: 'E_TASK_MODULE' });
      });
      return { role, source, hostPath, url: pathToFileURL(hostPath).href, sha256 };
    }),
  );
}

const what = (m: ExpectedModule): string => `${m.role === 'config' ? 'settings module' : 'task module'} ${m.source}`;
const onHostToo = (m: ExpectedModule, host: string): string => (m.hostPath === m.source ? '' : ` (on ${host}: ${m.hostPath})`);

/** The worker's own last words (its error boundary prints one `lab: …` line) as the reason a module did not load. */
function moduleFailure(log: string, expected: readonly ExpectedModule[], host: string): ServiceError | null {
  const line = log
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('lab: '));
  if (!line) return null;
  for (const m of expected) {
    for (const name of [m.url, m.hostPath]) {
      const at = line.lastIndexOf(name);
      if (at < 0) continue;
      const after = line.slice(at + name.length).replace(/^:\s*/, '');
      const reason = after && !after.startsWith('no such module') ? after : line.slice('lab: '.length);
      return new ServiceError(`${what(m)}${onHostToo(m, host)} does not load: ${reason}`, { code: 'E_TASK_MODULE' });
    }
  }
  return null;
}

/** Which expected modules the worker did not load as they are now (missing, or another digest). */
function mismatches(info: WorkerInfo, expected: readonly ExpectedModule[]): { m: ExpectedModule; why: string }[] {
  const out: { m: ExpectedModule; why: string }[] = [];
  for (const m of expected) {
    const loaded = info.modules.find((x) => x.url === m.url && x.role === m.role);
    if (!loaded) out.push({ m, why: 'not loaded' });
    else if (loaded.sha256 !== m.sha256) out.push({ m, why: 'changed since the workers started' });
  }
  return out;
}

/**
 * One canary client for every workers host `lab up` checks at once (withCanaries): one connection to the broker
 * and the backend instead of one per host, and a canary another host's worker took (they share the queue) is the
 * answer that host waits for — not thrown away and sent again.
 */
class Canaries {
  private app: App | null = null;
  private readonly waiting = new Map<string, (info: WorkerInfo) => void>();

  constructor(private readonly urls: LabUrls) {}

  client(): App {
    return (this.app ??= new App('lab-canary', { broker: this.urls.brokerHere, backend: this.urls.backendHere }));
  }

  /** The next answer from `node` (given to offer), until `signal` aborts. */
  next(node: string, signal: AbortSignal): Promise<WorkerInfo> {
    return new Promise((resolve) => {
      this.waiting.set(node, resolve);
      signal.addEventListener('abort', () => this.waiting.get(node) === resolve && this.waiting.delete(node), { once: true });
    });
  }

  /** An answer that came back to another host's canary: the one its node waits for, if it does. */
  offer(info: WorkerInfo): void {
    const deliver = this.waiting.get(info.node);
    this.waiting.delete(info.node);
    deliver?.(info);
  }

  async close(): Promise<void> {
    await this.app?.close();
  }
}

const shared = new WeakMap<ServiceContext, Canaries>();

/** Run `fn` with one canary client for the workers hosts it checks (see Canaries); closed after. */
export async function withCanaries<T>(ctx: ServiceContext, fn: () => Promise<T>): Promise<T> {
  const c = new Canaries(ctx.urls);
  shared.set(ctx, c);
  try {
    return await fn();
  } finally {
    shared.delete(ctx);
    await c.close();
  }
}

function isInfo(v: unknown): v is WorkerInfo {
  return !!v && typeof v === 'object' && Array.isArray((v as WorkerInfo).modules);
}

/**
 * Where a canary for `node` goes: its worker-direct queue when the worker consumes one (lab's workers do, see
 * start), so no other host's worker can take it — one round trip per host. Else the host's first queue, which other
 * workers hosts may serve too: a worker started by an older lab, or a broker that cannot count consumers (Redis).
 */
export async function canaryRoute(app: App, node: string, queue: string): Promise<SendOptions> {
  const direct = workerDirect(node);
  const stats = await (await app.getBroker()).stats(direct.queue).catch(() => null);
  return stats?.consumers ? direct : { queue };
}

/**
 * Send lab.worker_info until this host's worker answers (another workers host serving the same queue may take
 * one first: its answer goes to that host's check when one waits), and return its answer. A worker that exits
 * meanwhile is an error — naming the module that did not load, when that is why.
 */
async function askWorker(ctx: ServiceContext, host: Readonly<HostSpec>, ref: ProcessRef | null, expected: readonly ExpectedModule[]): Promise<WorkerInfo> {
  const hub = shared.get(ctx);
  const own = hub ? null : new Canaries(ctx.urls);
  const canaries = hub ?? own!;
  const app = canaries.client();
  const node = workersNodeName(host.name);
  const stop = new AbortController();
  try {
    const deadline = Date.now() + 20_000;
    const route = await canaryRoute(app, node, host.queues[0]!);
    const mine = canaries.next(node, stop.signal);
    let r = await app.sendTask(WORKER_INFO_TASK, [], {}, route);
    for (;;) {
      if (ref && !(await ctx.provider.alive(ref))) {
        const log = ref.logFile ? (await ctx.provider.readFile(host.name, ref.logFile, { tailBytes: 8192 }).catch(() => Buffer.alloc(0))).toString('utf8') : '';
        throw moduleFailure(log, expected, host.name) ?? new ServiceError('the worker process exited', { code: 'E_PROCESS_EXITED' });
      }
      const poll = new AbortController();
      const stopPoll = (): void => poll.abort();
      stop.signal.addEventListener('abort', stopPoll, { once: true });
      try {
        const got = await Promise.race([r.get({ timeout: 1, signal: poll.signal }).then((answer): { answer: unknown; offered?: WorkerInfo } => ({ answer })), mine.then((offered) => ({ answer: offered, offered }))]);
        if (got.offered) return got.offered;
        const info = got.answer;
        if (!isInfo(info)) throw new ServiceError(`canary came back as ${JSON.stringify(info)}`);
        if (info.node === node) return info;
        // another host's worker took it: that host's answer, if it waits; ask again
        canaries.offer(info);
        r = await app.sendTask(WORKER_INFO_TASK, [], {}, route);
      } catch (err) {
        if (!hasCode(err, 'E_TASK_TIMEOUT') || Date.now() > deadline) throw err;
      } finally {
        poll.abort();
        stop.signal.removeEventListener('abort', stopPoll);
      }
    }
  } finally {
    stop.abort();
    await own?.close();
  }
}

export const workersService: Service = {
  name: 'workers',
  role: 'workers',
  key: (host) => `proc:${host}:workers`,

  async start(ctx: ServiceContext, host: HostSpec): Promise<ProcessRef> {
    const info = ctx.provider.host(host.name);
    const modules = ['scenarios', posix.join(info.labRoot, WORKER_INFO_MODULE), ...(info.modules?.tasks ?? [])];
    const argv = workerArgv(info.node, info.labRoot, { modules, config: info.modules?.config, concurrency: host.concurrency, pool: host.pool, queues: host.queues, nodeName: workersNodeName(host.name) });
    return startService(ctx.provider, ctx.topology.name, {
      key: this.key(host.name),
      name: 'workers',
      host: host.name,
      command: argv,
      logFile: `${info.workDir}/logs/workers.log`,
      // worker_direct by environment, not flag: a docker image's older lab, which has no such flag, starts all the
      // same (without the queue; its canary then goes to the shared queue)
      env: { ...workerEnv(ctx.urls), [WORKER_DIRECT_ENV]: '1' },
      // `lab worker` says so once it consumes
      ready: { log: `${literalRe(`${workersNodeName(host.name)} ready.`)}` },
      restart: 'always',
      maxRestarts: SERVICE_DEFAULTS.maxRestarts,
      stopGraceMs: 10_000,
    });
  },

  async ready(ctx, host, ref) {
    const expected = await expectedModules(ctx, host);
    let info = await layer(ctx, host.name, 'workers', 'canary task round trip', ref, () => askWorker(ctx, host, ref, expected));
    if (expected.length === 0) return;
    const names = expected.map((m) => posix.basename(m.source)).join(', ');
    const stale = mismatches(info, expected);
    if (stale.length > 0 && ref) {
      // Started by an earlier lab up, before the modules changed: replace it (running tasks may finish).
      ctx.progress({ host: host.name, step: 'workers', status: 'info', detail: `${stale.map((s) => `${posix.basename(s.m.source)} ${s.why}`).join(', ')}: restarting the workers` });
      await ctx.provider.stop(ref, 10_000);
      ref = await this.start(ctx, host);
      const fresh = ref;
      info = await layer(ctx, host.name, 'workers', 'canary task round trip', fresh, () => askWorker(ctx, host, fresh, expected));
    }
    await layer(ctx, host.name, 'workers', `task modules (${names})`, ref, async () => {
      const bad = mismatches(info, expected);
      if (bad.length === 0) return;
      // A worker without the user's modules must not serve (nothing half-started).
      if (ref) await ctx.provider.stop(ref, 1000).catch(() => undefined);
      throw new ServiceError(bad.map(({ m, why }) => `${what(m)}${onHostToo(m, host.name)}: ${why}`).join('; '), { code: 'E_TASK_MODULE' });
    });
    ctx.progress({ host: host.name, step: 'workers', status: 'info', detail: `loaded ${names}; ${info.tasks.length} tasks registered` });
  },
};
