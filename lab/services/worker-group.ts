/**
 * A worker group on a workers host for one run: `lab worker` with the group's queues, pool and concurrency, its
 * node name celery@<HOST>-<group>, the lab's URLs in its environment (never on its command line). It is ready when
 * its log says `celery@<HOST>-<group> ready.` — the worker prints that once it consumes.
 *
 * A peer implementation's group (`lab run --impl celery,rq,pyro`) is the chapter's own processes instead, from the
 * peers/ directory on the host, with the lab's URLs and secrets in their environment (peerRecipe):
 *   celery  one `python3 -m celery -A labapp worker -Q <run queue> -c N -n <node>` per workers host (cwd peers/celery),
 *           ready at "<node> ready."
 *   rq      N × `python3 -m rq.cli worker <run queue>` per workers host (the chapter's start_workers.py; cwd
 *           peers/rq; RQ_REDIS_URL = the lab's Redis), each ready at "Listening on <queue>"
 *   pyro    the name server `python3 -m Pyro4.naming -n <broker host address> -p 0 -x` on the broker host (ready at
 *           "NS running on <address>:<port>", which says the port it took), then N × `worker.py` per workers host,
 *           each a daemon on the host's address registered as <prefix><host>.<i> (ready at "Accepting
 *           connections"); all of them with the lab's HMAC key in PYRO_HMAC_KEY
 * Every Python process gets PYTHONUNBUFFERED (its log lines reach the log file as they happen) and
 * PYTHONDONTWRITEBYTECODE (nothing is written into peers/).
 */
import { ServiceError } from '../errors.js';
import type { Provider, ProcessRef } from '../providers/provider.js';
import type { PoolKind } from '../queue/index.js';

export interface GroupProcessSpec {
  host: string;
  /** Ledger key of the process. */
  key: string;
  nodeName: string;
  queues: string[];
  pool: PoolKind;
  concurrency: number;
  acksLate?: boolean;
  prefetchMultiplier?: number;
  /** Task modules to load: built-in names or paths on the host (default: scenarios and the host's own, inventory tasks:). */
  modules?: string[];
  /** A settings module on the host (default: the host's own, inventory config:). */
  config?: string;
  logName: string;
  env: Record<string, string>;
}

/** The `lab worker` command line of a worker on a host (lab's worker service and worker groups alike). */
export function workerArgv(node: string, labRoot: string, o: { modules: string[]; config?: string; queues: string[]; pool: PoolKind; concurrency: number; nodeName: string; acksLate?: boolean; prefetchMultiplier?: number }): string[] {
  const argv = [node, `${labRoot}/bin/lab.js`, 'worker', ...o.modules.flatMap((m) => ['-A', m]), '-c', String(o.concurrency), '-P', o.pool, '-Q', o.queues.join(','), '--hostname', o.nodeName, '--loglevel', 'info'];
  if (o.config !== undefined) argv.push('--config', o.config);
  if (o.acksLate) argv.push('--acks-late');
  if (o.prefetchMultiplier !== undefined) argv.push('--prefetch-multiplier', String(o.prefetchMultiplier));
  return argv;
}

export async function startGroupProcess(provider: Provider, o: GroupProcessSpec, timeoutMs = 30_000): Promise<ProcessRef> {
  const info = provider.host(o.host);
  // A group serves what the host's workers serve: lab's tasks and the user's (a user scenario's groups need them).
  const argv = workerArgv(info.node, info.labRoot, { ...o, modules: o.modules ?? ['scenarios', ...(info.modules?.tasks ?? [])], config: o.config ?? info.modules?.config });
  const ref = await provider.spawn(o.host, argv, { key: o.key, logFile: `${info.workDir}/logs/${o.logName}.log`, env: o.env });
  try {
    await waitReady(provider, ref, o.nodeName, timeoutMs);
  } catch (err) {
    await provider.stop(ref, 1000).catch(() => undefined);
    throw err;
  }
  return ref;
}

async function waitReady(provider: Provider, ref: ProcessRef, nodeName: string, timeoutMs: number): Promise<void> {
  await waitForLine(provider, ref, new RegExp(`${escapeRe(nodeName)} ready\\.`), `worker group ${nodeName}`, timeoutMs);
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Wait until the process's log has a line matching `ready`; resolves with the match. */
async function waitForLine(provider: Provider, ref: ProcessRef, ready: RegExp, what: string, timeoutMs: number): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 50; ; delay = Math.min(500, delay * 2)) {
    const log = (await provider.readFile(ref.host, ref.logFile, { tailBytes: 8192 }).catch(() => Buffer.alloc(0))).toString('utf8');
    const m = ready.exec(log);
    if (m) return m;
    const tail = log.trim().split('\n').slice(-12).join('\n');
    if (!(await provider.alive(ref))) {
      throw new ServiceError(`${what} exited before it was ready\n--- last lines of ${ref.logFile} ---\n${tail}`, { host: ref.host, code: 'E_PROCESS_EXITED' });
    }
    if (Date.now() > deadline) {
      throw new ServiceError(`${what} was not ready within ${Math.round(timeoutMs / 1000)} s\n--- last lines of ${ref.logFile} ---\n${tail}`, { host: ref.host, code: 'E_NOT_READY' });
    }
    await new Promise((r) => setTimeout(r, delay));
  }
}

// ---- peer implementations ------------------------------------------------------------------------------------

export type PeerName = 'celery' | 'rq' | 'pyro';

/** A host that runs a peer's processes: its address, how many worker processes, where peers/ is on it. */
export interface PeerHost {
  name: string;
  address: string;
  /** Worker processes on this host (the inventory's concurrency, as lab's own workers have). */
  concurrency: number;
  peersDir: string;
  /**
   * The host's work directory: where a process that needs nothing of peers/ runs (Pyro's name server — on an ssh
   * lab the broker host has no copy of lab, so no peers/). Default: peersDir.
   */
  workDir?: string;
}

export interface PeerRecipeInput {
  impl: PeerName;
  /** Names this run's queue, nodes and Pyro names (a few hex digits). */
  run: string;
  python: string;
  workers: PeerHost[];
  /** pyro: the broker host, where the name server runs (the chapter's HOST1). */
  nameServer?: PeerHost;
  /** The lab's URLs as its hosts see them, and Pyro's HMAC key. */
  brokerUrl: string;
  backendUrl: string;
  quotesUrl: string;
  pyroKey?: string;
}

/** One process of a peer's group. */
export interface PeerProcess {
  host: string;
  /** Unique within the group: names its log file and ledger key. */
  name: string;
  argv: string[];
  cwd: string;
  /** Environment beside the host's own: URLs and secrets go here, never into argv. */
  env: Record<string, string>;
  /** The log line that says it is ready. */
  ready: RegExp;
}

export interface PeerRecipe {
  /** Started first, the rest once it is ready (pyro's name server); its ready line's first group is the port. */
  first?: PeerProcess;
  /** The workers, given what `first` said (pyro: the name server's port). */
  workers(firstMatch: RegExpExecArray | null): PeerProcess[];
  /** What the run's driver needs in its environment beside the lab's URLs (the queue, the name server). */
  driverEnv(firstMatch: RegExpExecArray | null): Record<string, string>;
  /** After the workers stopped: remove what the run left on the broker (its queue), on the first workers host. */
  cleanup?: PeerProcess;
  /** The command of one worker, for the record (no secrets: they are in the environment). */
  command: string;
}

const PYTHON_ENV = { PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1' };

/** The queue a peer's run uses: its own, so lab's workers on the same broker never take its tasks. */
export function peerQueue(impl: PeerName, run: string): string {
  return `lab-${impl}-${run}`;
}

export function peerRecipe(o: PeerRecipeInput): PeerRecipe {
  const urls = { LAB_BROKER_URL: o.brokerUrl, LAB_BACKEND_URL: o.backendUrl, LAB_QUOTES_URL: o.quotesUrl, ...PYTHON_ENV };
  const queue = peerQueue(o.impl, o.run);
  const first = o.workers[0];
  if (!first) throw new TypeError('a peer group needs a workers host');
  if (o.impl === 'celery') {
    const env = { ...urls, LAB_QUEUE: queue };
    const node = (h: PeerHost): string => `celery-${o.run}@${h.name}`;
    return {
      command: `${o.python} -m celery -A labapp worker -Q ${queue} -c N -n celery-${o.run}@<host> --without-mingle --without-gossip --without-heartbeat`,
      workers: () =>
        o.workers.map((h) => ({
          host: h.name,
          name: 'worker',
          argv: [o.python, '-m', 'celery', '-A', 'labapp', 'worker', '-Q', queue, '-c', String(h.concurrency), '-n', node(h), '--loglevel', 'info', '--without-mingle', '--without-gossip', '--without-heartbeat'],
          cwd: `${h.peersDir}/celery`,
          env,
          ready: new RegExp(`${escapeRe(node(h))} ready\\.`),
        })),
      driverEnv: () => ({ LAB_QUEUE: queue }),
      cleanup: { host: first.name, name: 'cleanup', argv: [o.python, 'driver.py', '--cleanup'], cwd: `${first.peersDir}/celery`, env, ready: /^/ },
    };
  }
  if (o.impl === 'rq') {
    const env = { ...urls, RQ_REDIS_URL: o.backendUrl, LAB_QUEUE: queue };
    return {
      command: `${o.python} -m rq.cli worker ${queue} --name rq-${o.run}-<host>-<i>`,
      workers: () =>
        o.workers.flatMap((h) =>
          Array.from({ length: h.concurrency }, (_, i) => ({
            host: h.name,
            name: `worker-${i + 1}`,
            argv: [o.python, '-m', 'rq.cli', 'worker', queue, '--name', `rq-${o.run}-${h.name}-${i + 1}`],
            cwd: `${h.peersDir}/rq`,
            env,
            ready: new RegExp(`Listening on ${escapeRe(queue)}`),
          })),
        ),
      driverEnv: () => ({ LAB_QUEUE: queue, RQ_REDIS_URL: o.backendUrl }),
      cleanup: { host: first.name, name: 'cleanup', argv: [o.python, 'driver.py', '--cleanup'], cwd: `${first.peersDir}/rq`, env, ready: /^/ },
    };
  }
  const ns = o.nameServer;
  if (!ns) throw new TypeError('pyro needs the broker host for its name server');
  if (!o.pyroKey) throw new TypeError('pyro needs the lab\'s HMAC key');
  const keyEnv = { PYRO_HMAC_KEY: o.pyroKey };
  const prefix = `lab.${o.run}.`;
  const port = (m: RegExpExecArray | null): string => {
    if (!m?.[1]) throw new TypeError('the Pyro name server did not say its port');
    return m[1];
  };
  return {
    command: `${o.python} worker.py (LAB_PYRO_NAME=${prefix}<host>.<i>)`,
    first: {
      host: ns.name,
      name: 'ns',
      argv: [o.python, '-m', 'Pyro4.naming', '-n', ns.address, '-p', '0', '-x'],
      cwd: ns.workDir ?? ns.peersDir,
      env: { ...PYTHON_ENV, ...keyEnv },
      ready: new RegExp(`NS running on ${escapeRe(ns.address)}:(\\d+)`),
    },
    workers: (m) =>
      o.workers.flatMap((h) =>
        Array.from({ length: h.concurrency }, (_, i) => ({
          host: h.name,
          name: `worker-${i + 1}`,
          argv: [o.python, 'worker.py'],
          cwd: `${h.peersDir}/pyro`,
          env: { ...urls, ...keyEnv, LAB_PYRO_HOST: h.address, LAB_PYRO_NS_HOST: ns.address, LAB_PYRO_NS_PORT: port(m), LAB_PYRO_NAME: `${prefix}${h.name}.${i + 1}` },
          ready: /Accepting connections/,
        })),
      ),
    driverEnv: (m) => ({ LAB_PYRO_NS_HOST: ns.address, LAB_PYRO_NS_PORT: port(m), LAB_PYRO_PREFIX: prefix }),
  };
}

/**
 * Run a peer's one-off command (the cleanup after a run) to its end: started like the workers — so the URLs it needs
 * travel in its environment the way a spawned process's do, never on a command line — and waited for (at most
 * `timeoutMs`, then stopped). Best effort: resolves either way.
 */
export async function runPeerOnce(provider: Provider, p: PeerProcess, o: { key: string; logFile: string; timeoutMs?: number }): Promise<void> {
  const ref = await provider.spawn(p.host, p.argv, { key: o.key, logFile: o.logFile, env: p.env, cwd: p.cwd }).catch(() => null);
  if (!ref) return;
  const deadline = Date.now() + (o.timeoutMs ?? 60_000);
  for (let delay = 50; Date.now() < deadline && (await provider.alive(ref).catch(() => false)); delay = Math.min(500, delay * 2)) await new Promise((r) => setTimeout(r, delay));
  await provider.stop(ref, 1000).catch(() => undefined);
}

/** Start one process of a peer's group on a host and wait for its ready line (stopped again if it is not ready). */
export async function startPeerProcess(provider: Provider, p: PeerProcess, o: { key: string; logFile: string; timeoutMs?: number }): Promise<{ ref: ProcessRef; match: RegExpExecArray }> {
  const ref = await provider.spawn(p.host, p.argv, { key: o.key, logFile: o.logFile, env: p.env, cwd: p.cwd });
  try {
    const match = await waitForLine(provider, ref, p.ready, `${p.argv.slice(0, 4).join(' ')} (${p.name})`, o.timeoutMs ?? 60_000);
    return { ref, match };
  } catch (err) {
    await provider.stop(ref, 1000).catch(() => undefined);
    throw err;
  }
}
