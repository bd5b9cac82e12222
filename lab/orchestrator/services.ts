/** The lab's services, where each runs, and how to (re)start what is not running. */
import { ServiceError } from '../errors.js';
import { refOf } from '../providers/provider.js';
import type { ProcessRef } from '../providers/provider.js';
import { linkProxyService } from '../services/link-proxy-service.js';
import { quotesService } from '../services/quotes-service.js';
import { rabbitmqService } from '../services/rabbitmq.js';
import { redisService } from '../services/redis.js';
import type { Service, ServiceContext } from '../services/service.js';
import { startService } from '../services/supervision.js';
import { userRuns, userServiceReady } from '../services/user-services.js';
import type { UserPlacement } from '../services/user-services.js';
import { workersService } from '../services/workers.js';
import type { OpenLab } from './lab-ref.js';
import type { Ledger, LedgerEntry } from '../topology/ledger.js';
import type { HostSpec, Topology } from '../topology/topology.js';

/** The link proxy first: the services behind it are checked through it. */
export const SERVICES: readonly Service[] = [linkProxyService, rabbitmqService, redisService, quotesService, workersService];

export interface Placement {
  service: Service;
  host: HostSpec;
}

/** Where each of the lab's own services runs (those the lab runs at all: no RabbitMQ with a Redis broker). */
export function placements(topology: Topology, services: readonly Service[] = SERVICES): Placement[] {
  return services.filter((s) => s.enabled?.(topology) ?? true).flatMap((service) => (service.hosts?.(topology) ?? topology.roleHosts(service.role)).map((host) => ({ service, host: host as HostSpec })));
}

/** The recorded process of a service on a host, if the ledger has one with an identity. */
export function recordedProcess(ledger: Ledger, p: Placement): ProcessRef | null {
  const entry = ledger.get(p.service.key(p.host.name));
  return entry && entry.state === 'done' ? refOf(entry) : null;
}

/**
 * A recorded service whose process (its supervisor) is gone may have left children behind — a supervisor killed
 * with -9 leaves its service running — which would hold the port the new one needs: stop what still carries the
 * entry's token (never by name), then forget the entry.
 */
export async function clearLeftovers(ctx: Pick<ServiceContext, 'provider'>, ledger: Ledger, key: string): Promise<void> {
  const entry = ledger.get(key);
  if (!entry) return;
  await ctx.provider.undo({ ...entry, data: { ...entry.data, graceMs: 2000 } });
  await ledger.remove(key);
}

/** "Does the recorded process still run?" — the provider's own call, or a batched host check's answer (host-check.ts). */
export type AliveCheck = (ref: ProcessRef) => Promise<boolean>;

/** Start the service unless its recorded process still runs; then check it is ready. */
export async function ensureService(ctx: ServiceContext, ledger: Ledger, p: Placement, alive: AliveCheck = (r) => ctx.provider.alive(r)): Promise<{ ref: ProcessRef; started: boolean }> {
  const step = `${p.service.name}`;
  let ref = recordedProcess(ledger, p);
  let started = false;
  if (ref && (await alive(ref))) {
    ctx.progress({ host: p.host.name, step, status: 'skip', detail: `running (pid ${ref.pid})` });
  } else {
    await clearLeftovers(ctx, ledger, p.service.key(p.host.name));
    ctx.progress({ host: p.host.name, step, status: 'start', detail: 'starting' });
    ref = await p.service.start(ctx, p.host);
    started = true;
    ctx.progress({ host: p.host.name, step, status: 'done', detail: `pid ${ref.pid}` });
  }
  await p.service.ready(ctx, p.host, ref);
  return { ref, started };
}

/** The process (supervisor, unit) a ledger key recorded, if done. */
export function recordedRef(ledger: Ledger, key: string): ProcessRef | null {
  const entry = ledger.get(key);
  return entry && entry.state === 'done' ? refOf(entry) : null;
}

/**
 * A host's own service (inventory `services:`): started unless what the ledger recorded for it still runs, then
 * checked ready (its supervisor's word, or a check from here where lab's supervisor does not run).
 */
export async function ensureUserService(ctx: ServiceContext, ledger: Ledger, p: UserPlacement, alive: AliveCheck = (r) => ctx.provider.alive(r)): Promise<{ started: boolean }> {
  const mode = ctx.provider.host(p.host.name).supervisor;
  const step = p.spec.name;
  const refs: { key: string; index?: number; ref: ProcessRef }[] = [];
  let started = false;
  for (const r of userRuns(ctx, p)) {
    const ref = recordedRef(ledger, r.key);
    const index = r.index !== undefined ? { index: r.index } : {};
    if (ref && (await alive(ref))) {
      ctx.progress({ host: p.host.name, step, status: 'skip', detail: `running (pid ${ref.pid})` });
      refs.push({ key: r.key, ...index, ref });
      continue;
    }
    await clearLeftovers(ctx, ledger, r.key);
    ctx.progress({ host: p.host.name, step, status: 'start', detail: `${p.spec.command.join(' ')}${p.spec.count > 1 ? ` × ${p.spec.count}` : ''}` });
    const fresh = await startService(ctx.provider, ctx.topology.name, r.run);
    ctx.progress({ host: p.host.name, step, status: 'done', detail: `pid ${fresh.pid}${mode === 'lab' ? ' (lab supervisor)' : mode === 'systemd' ? ` (unit ${fresh.unit})` : ' (unsupervised)'}` });
    refs.push({ key: r.key, ...index, ref: fresh });
    started = true;
  }
  await userServiceReady(ctx, p, refs, mode);
  return { started };
}

/**
 * For the faults (FaultContext.restartUnsupervised): start one of lab's own services again, as `lab up` would —
 * what its stopped run left is cleared by its token, then it is started and checked ready — on a host where nothing
 * supervises it.
 */
export function unsupervisedRestarter(lab: OpenLab): (entry: LedgerEntry, signal?: AbortSignal) => Promise<void> {
  return async (entry, signal) => {
    const p = placements(lab.topology).find((x) => x.service.key(x.host.name) === entry.key);
    if (!p) throw new ServiceError(`${entry.key} is not one of lab's own services: lab cannot start it again (lab up does)`, { code: 'E_SERVICE' });
    if (signal?.aborted) return;
    const ctx: ServiceContext = { provider: lab.provider, topology: lab.topology, state: lab.state, urls: lab.urls, progress: () => undefined };
    await ensureService(ctx, lab.ledger, p);
  };
}
