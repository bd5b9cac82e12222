/** The lab's services, where each runs, and how to (re)start what is not running. */
import { refOf } from '../providers/provider.js';
import type { ProcessRef } from '../providers/provider.js';
import { quotesService } from '../services/quotes-service.js';
import { rabbitmqService } from '../services/rabbitmq.js';
import { redisService } from '../services/redis.js';
import type { Service, ServiceContext } from '../services/service.js';
import { workersService } from '../services/workers.js';
import type { Ledger } from '../topology/ledger.js';
import type { HostSpec, Topology } from '../topology/topology.js';

export const SERVICES: readonly Service[] = [rabbitmqService, redisService, quotesService, workersService];

export interface Placement {
  service: Service;
  host: HostSpec;
}

export function placements(topology: Topology, services: readonly Service[] = SERVICES): Placement[] {
  return services.flatMap((service) => topology.roleHosts(service.role).map((host) => ({ service, host: host as HostSpec })));
}

/** The recorded process of a service on a host, if the ledger has one with an identity. */
export function recordedProcess(ledger: Ledger, p: Placement): ProcessRef | null {
  const entry = ledger.get(p.service.key(p.host.name));
  return entry && entry.state === 'done' ? refOf(entry) : null;
}

/** Start the service unless its recorded process still runs; then check it is ready. */
export async function ensureService(ctx: ServiceContext, ledger: Ledger, p: Placement): Promise<{ ref: ProcessRef; started: boolean }> {
  const step = `${p.service.name}`;
  let ref = recordedProcess(ledger, p);
  let started = false;
  if (ref && (await ctx.provider.alive(ref))) {
    ctx.progress({ host: p.host.name, step, status: 'skip', detail: `running (pid ${ref.pid})` });
  } else {
    ctx.progress({ host: p.host.name, step, status: 'start', detail: 'starting' });
    ref = await p.service.start(ctx, p.host);
    started = true;
    ctx.progress({ host: p.host.name, step, status: 'done', detail: `pid ${ref.pid}` });
  }
  await p.service.ready(ctx, p.host, ref);
  return { ref, started };
}
