/**
 * A service of the lab (RabbitMQ, Redis, the worker pool, the quote server): how to start it on a host through
 * the provider, and how to tell it is ready — in layers, each with its own timeout and a diagnosis naming the
 * host, the step and the tail of the service's log.
 */
import { connect } from 'node:net';
import { ServiceError } from '../errors.js';
import { backoffDelay } from '../backoff.js';
import type { Connection } from '../queue/index.js';
import type { Provider, ProcessRef, Progress } from '../providers/provider.js';
import type { LabState } from '../topology/state.js';
import { linksOf } from '../topology/topology.js';
import type { HostSpec, Role, Topology } from '../topology/topology.js';
import { readSupervisorStatus, supervisePaths } from './supervision.js';

/** The lab's URLs: `inLab` by host name (what processes inside the lab use), `here` by address (this machine). */
export interface LabUrls {
  brokerInLab: string;
  backendInLab: string;
  brokerHere: string;
  backendHere: string;
  /** The quote server's URL template as seen inside the lab (the book's path; "{}" stands for the pair). */
  quotesInLab: string;
  quotesHere: string;
}

export interface ServiceContext {
  provider: Provider;
  topology: Topology;
  state: LabState;
  urls: LabUrls;
  progress: Progress;
}

export interface Service {
  readonly name: string;
  readonly role: Role;
  /** Whether the lab runs this service at all (RabbitMQ: not when the broker is Redis). Default: yes. */
  enabled?(topology: Topology): boolean;
  /** The hosts it runs on, when that is not simply the hosts of its role (the link proxy: every service host). */
  hosts?(topology: Topology): readonly HostSpec[];
  /** Ledger key of the service's process on a host. */
  key(host: string): string;
  /** Write its configuration and start it; resolves with the process as soon as it runs (not yet ready). */
  start(ctx: ServiceContext, host: HostSpec): Promise<ProcessRef>;
  /** Layered readiness; throws ServiceError(host) naming the failed layer, with the log tail. */
  ready(ctx: ServiceContext, host: HostSpec, ref: ProcessRef | null): Promise<void>;
  /** The service's version on that host, if it can tell cheaply. */
  version?(ctx: ServiceContext, host: HostSpec, ref: ProcessRef | null): Promise<string | undefined>;
}

/** The environment of the lab's services and the user's on a host: the lab's URLs, lab's and Celery's names. */
export function serviceEnv(urls: LabUrls, lab: string): Record<string, string> {
  return {
    LAB_NAME: lab,
    LAB_BROKER_URL: urls.brokerInLab,
    LAB_BACKEND_URL: urls.backendInLab,
    CELERY_BROKER_URL: urls.brokerInLab,
    CELERY_RESULT_BACKEND: urls.backendInLab,
    LAB_QUOTES_URL: urls.quotesInLab,
  };
}

/** A regular expression that matches `text` literally. */
export function literalRe(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Run a setup command on a host; a non-zero exit is an error naming the command and its stderr. */
export async function mustExec(ctx: ServiceContext, host: string, argv: string[], options: { sudo?: boolean } = {}): Promise<void> {
  const r = await ctx.provider.exec(host, argv, options);
  if (r.exitCode !== 0) throw new ServiceError(`${argv.join(' ')} failed (exit ${r.exitCode}): ${r.stderr.trim().split('\n')[0] ?? ''}`, { host, code: 'E_SETUP' });
}

/**
 * The address a service of the lab listens on: the host's lab address, or with `links: proxy` its loopback — the
 * link proxy (link-proxy.ts) then listens on the lab address at the same port and passes each connection on.
 */
export function bindAddress(ctx: Pick<ServiceContext, 'provider' | 'topology'>, host: string): string {
  return linksOf(ctx.topology) === 'proxy' ? '127.0.0.1' : ctx.provider.host(host).address;
}

/**
 * A service's port layer. Straight, its port accepting connections from here. Behind the link proxy, that port is
 * the proxy's (open before the service is): first the service's supervisor must say it is ready — it probes the
 * loopback port on the host —, then the proxy's port from here.
 */
export async function waitServicePort(ctx: ServiceContext, host: string, service: string, address: string, port: number, timeoutMs: number, ref: ProcessRef | null): Promise<void> {
  const stillRunning = ref ? () => ctx.provider.alive(ref) : undefined;
  const info = ctx.provider.host(host);
  if (linksOf(ctx.topology) === 'proxy' && info.supervisor === 'lab') {
    const deadline = Date.now() + timeoutMs;
    const statusFile = supervisePaths(info.workDir, service).status;
    for (let attempt = 0; ; attempt++) {
      const st = await readSupervisorStatus(ctx.provider, host, statusFile);
      if (st?.state === 'ready') break;
      if (st?.state === 'failed') throw new ServiceError(`its supervisor gave up${st.reason ? `: ${st.reason}` : ''}`, { code: 'E_PROCESS_EXITED' });
      if (stillRunning && attempt % 5 === 4 && !(await stillRunning())) throw new ServiceError(`the process exited before 127.0.0.1:${port} accepted connections on ${host}`, { code: 'E_PROCESS_EXITED' });
      if (Date.now() >= deadline) throw new ServiceError(`127.0.0.1:${port} on ${host} did not accept connections within ${Math.round(timeoutMs / 1000)} s (its supervisor says ${st?.state ?? 'nothing yet'})`);
      await new Promise((r) => setTimeout(r, backoffDelay(attempt, { baseMs: 50, capMs: 250 })));
    }
  }
  await waitPort(address, port, timeoutMs, stillRunning);
}

/** Connect (log in) and close again: the protocol layer of a readiness or health check. */
export async function login(connecting: Promise<Connection>): Promise<void> {
  const c = await connecting;
  try {
    await c.ready();
  } finally {
    await c.close().catch(() => undefined);
  }
}

/** Wait until a TCP port accepts connections, or fail after timeoutMs (checking that the process still runs). */
export async function waitPort(address: string, port: number, timeoutMs: number, stillRunning?: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (let attempt = 0; ; attempt++) {
    const err = await new Promise<string | null>((resolve) => {
      const s = connect({ host: address, port });
      const done = (r: string | null): void => {
        s.destroy();
        resolve(r);
      };
      s.setTimeout(1000, () => done('timed out'));
      s.once('connect', () => done(null));
      s.once('error', (e: NodeJS.ErrnoException) => done(e.code ?? e.message));
    });
    if (err === null) return;
    last = err;
    if (stillRunning && attempt % 5 === 4 && !(await stillRunning())) throw new ServiceError(`the process exited before ${address}:${port} accepted connections`, { code: 'E_PROCESS_EXITED' });
    if (Date.now() >= deadline) throw new ServiceError(`${address}:${port} did not accept connections within ${Math.round(timeoutMs / 1000)} s (${last})`);
    // A port comes up soon or not at all: probe often at first, never more than 200 ms apart.
    await new Promise((r) => setTimeout(r, backoffDelay(attempt, { baseMs: 20, capMs: 200 })));
  }
}

/** What the service's supervisor says of it (restarts, last exit, giving up), when lab's supervisor runs it. */
async function supervisedLine(ctx: ServiceContext, host: string, service: string): Promise<string> {
  try {
    const info = ctx.provider.host(host);
    if (info.supervisor !== 'lab') return '';
    const st = await readSupervisorStatus(ctx.provider, host, supervisePaths(info.workDir, service).status);
    if (!st) return '';
    const restarts = st.instances.reduce((n, i) => n + i.restarts, 0);
    const last = st.instances.map((i) => i.lastExit).find((x) => x !== null);
    const exit = last ? `; last exit ${last.signal ? `by ${last.signal}` : `code ${last.code}`}` : '';
    return st.reason ? `supervisor: ${st.reason}` : `supervisor: ${st.state}, restarted ${restarts} time${restarts === 1 ? '' : 's'}${exit}`;
  } catch {
    return '';
  }
}

/** Run one readiness layer; on failure, a ServiceError with the host, the layer, and the log tail. */
export async function layer<T>(ctx: ServiceContext, host: string, service: string, step: string, ref: ProcessRef | null, fn: () => Promise<T>): Promise<T> {
  ctx.progress({ host, step: `${service}: ${step}`, status: 'start' });
  try {
    const out = await fn();
    ctx.progress({ host, step: `${service}: ${step}`, status: 'done' });
    return out;
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    ctx.progress({ host, step: `${service}: ${step}`, status: 'fail', detail: why });
    let tail = '';
    if (ref?.logFile) {
      try {
        tail = (await ctx.provider.readFile(host, ref.logFile, { tailBytes: 1500 })).toString('utf8').trim();
      } catch {
        tail = '';
      }
    }
    const lines = tail ? `\n--- last lines of ${ref?.logFile} on ${host} ---\n${tail.split('\n').slice(-12).join('\n')}` : '';
    const supervised = await supervisedLine(ctx, host, service);
    throw new ServiceError(`${service} not ready (${step}): ${why}${supervised ? ` (${supervised})` : ''}${lines}`, { host, cause: err, code: 'E_NOT_READY' });
  }
}
