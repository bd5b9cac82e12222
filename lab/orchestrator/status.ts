/**
 * `lab status`: hosts, services (process, port, protocol, and what supervises them: restarts, the last exit), queue
 * depth and workers online, from the lab's state.
 */
import { maskUrl } from '../errors.js';
import { MailboxClient, createBroker, createBackend, surveyWorkers } from '../queue/index.js';
import type { WorkerNode } from '../queue/index.js';
import { login, waitPort } from '../services/service.js';
import { LINK_PROXY, proxiedPorts } from '../services/link-proxy-service.js';
import { supervisionOf } from '../services/supervision.js';
import type { Supervision } from '../services/supervision.js';
import { userPlacements, userRuns } from '../services/user-services.js';
import { refOf } from '../providers/provider.js';
import { checkHosts } from '../providers/host-check.js';
import { entryHost, hostCheckRequests } from './host-checks.js';
import { brokerKind, redisPersistence } from '../topology/state.js';
import { linksOf } from '../topology/topology.js';
import type { LinkMode } from '../topology/topology.js';
import type { OpenLab } from './lab-ref.js';
import { placements } from './services.js';
import { workersNodeName } from '../services/workers.js';

export interface ServiceStatus {
  service: string;
  host: string;
  /** One of lab's own services, one of the host's `services:`, or a broker/backend that already runs (not lab's). */
  kind: 'lab' | 'user' | 'external';
  /** The service's process (its first instance); the recorded one when the supervisor says nothing. */
  pid: number | null;
  running: boolean;
  /** What was checked and how it went, e.g. "AMQP login ok". */
  health: string;
  healthy: boolean;
  /** What supervises it and what it did: restarts, the last exit, each restart's time to recover. Null: never started. */
  supervision: Supervision | null;
}

export interface LabStatus {
  lab: string;
  provider: string;
  status: string;
  inventory: string;
  hosts: { name: string; address: string; roles: string[]; reachable: boolean; detail: string }[];
  services: ServiceStatus[];
  /** consumers: null when the broker cannot count them (Redis). */
  queues: { name: string; messages: number; consumers: number | null }[];
  /** Workers that answered a remote-control ping, with their pools and active tasks; null: not asked (Redis broker, or it is down). */
  workers: WorkerNode[] | null;
  broker: string;
  brokerKind: 'rabbitmq' | 'redis';
  backend: string;
  /** What the lab's Redis keeps on disk: an append-only file fsync'd every second, or nothing. */
  persistence: 'aof-everysec' | 'none' | 'external';
  /** How peers reach the services: straight, or through lab's link proxy (inventory `links: proxy`). */
  links: LinkMode;
  versions: Record<string, string>;
  healthy: boolean;
}

async function check(fn: () => Promise<void>, ok: string): Promise<[boolean, string]> {
  try {
    await fn();
    return [true, ok];
  } catch (err) {
    return [false, (err instanceof Error ? err.message : String(err)).split('\n')[0]];
  }
}

export async function labStatus(lab: OpenLab): Promise<LabStatus> {
  const { topology, state, provider, ledger, urls } = lab;
  const ownKeys = userPlacements(topology).map((u) => ({ u, keys: userRuns({ provider, topology, urls }, u).map((r) => r.key) }));
  const kind = brokerKind(state);
  // One broker connection for the broker's login check, the queues' depths and the workers' survey.
  let brokerConn: ReturnType<typeof createBroker> | null = null;
  const broker = (): ReturnType<typeof createBroker> => (brokerConn ??= createBroker(urls.brokerHere));
  // The logins, the queues' depths and the workers' survey start now, beside the host checks (each is used only if
  // its service turns out to run): on 12 namespaces, loading amqplib and ioredis and connecting took as long as all
  // the checks, after them. The survey expects every workers host's node.
  const brokerReady = settled(broker().then((b) => b.ready()));
  const backendReady = settled(login(createBackend(urls.backendHere)));
  const queueNames = [...new Set(topology.roleHosts('workers').flatMap((h) => h.queues))];
  const early = brokerSurvey(broker, queueNames, topology.roleHosts('workers').map((h) => workersNodeName(h.name)));
  const cleanup = async (): Promise<void> => {
    await Promise.all([early.stats, early.survey, brokerReady, backendReady]);
    // (set inside the checks above; TS cannot see that through the closure)
    const b = await (brokerConn as ReturnType<typeof createBroker> | null)?.catch(() => null);
    await b?.close().catch(() => undefined);
  };
  let status: LabStatus | null = null;
  try {
    status = await statusWith(lab, ownKeys, kind, { broker: () => rethrow(brokerReady), backend: () => rethrow(backendReady) }, early);
    return status;
  } finally {
    // A broker found healthy answered: closed before returning. One found down (its host gone) may still be in its
    // connect timeout: that attempt closes itself when it ends, without holding up the status.
    if (status && reachedBroker(status.services, kind)) await cleanup();
    else void cleanup().catch(() => undefined);
  }
}

/** The status found the lab's broker (or an external one) healthy: the early connection is in use. */
function reachedBroker(services: readonly ServiceStatus[], kind: 'rabbitmq' | 'redis'): boolean {
  return services.some((x) => x.healthy && ((x.kind === 'lab' && x.service === (kind === 'redis' ? 'redis' : 'rabbitmq')) || (x.kind === 'external' && x.service === 'broker')));
}

/** A promise that never rejects: its error as its value (awaited later, maybe never). */
function settled(p: Promise<unknown>): Promise<Error | null> {
  return p.then(() => null, (err: unknown) => (err instanceof Error ? err : new Error(String(err))));
}

async function rethrow(p: Promise<Error | null>): Promise<void> {
  const err = await p;
  if (err) throw err;
}

/** Queue depths and the workers that answer, asked at once on the one connection; never rejects. */
function brokerSurvey(broker: () => ReturnType<typeof createBroker>, queueNames: string[], expect: string[]): { stats: Promise<LabStatus['queues']>; survey: Promise<WorkerNode[] | null> } {
  const stats = (async (): Promise<LabStatus['queues']> => {
    try {
      const b = await broker();
      await b.ready();
      return await Promise.all(queueNames.map((q) => b.stats(q).then((s) => ({ name: q, messages: s.messages, consumers: s.consumers }))));
    } catch {
      return [];
    }
  })();
  // Remote control needs fanout exchanges (RabbitMQ; Redis by PUBLISH).
  const survey = (async (): Promise<WorkerNode[] | null> => {
    try {
      const b = await broker();
      if (typeof b.declareExchange !== 'function') return null;
      const client = new MailboxClient(b);
      try {
        // the lab's workers are known: the survey need not wait out its whole second once they answered; others
        // (a Python peer on the lab) answer as fast — 50 ms more for them, not 150 (a third of lab status on 12 hosts)
        return await surveyWorkers(client, 1000, { nodes: expect, settleMs: 50 });
      } finally {
        await client.close();
      }
    } catch {
      return null;
    }
  })();
  return { stats, survey };
}

async function statusWith(
  lab: OpenLab,
  ownKeys: { u: ReturnType<typeof userPlacements>[number]; keys: string[] }[],
  kind: 'rabbitmq' | 'redis',
  logins: { broker: () => Promise<void>; backend: () => Promise<void> },
  early: ReturnType<typeof brokerSurvey>,
): Promise<LabStatus> {
  const { topology, state, provider, ledger, urls } = lab;
  // One round trip per host, all hosts at once: reachable, every recorded process, every supervisor's status file.
  const checks = await checkHosts(provider, hostCheckRequests(topology, ledger, [...placements(topology).map((p) => p.service.key(p.host.name)), ...ownKeys.flatMap((o) => o.keys)], { statusFiles: true, timeoutMs: 5000 }));
  const hosts = topology.hosts.map((h) => {
    const c = checks.get(h.name)!;
    return { name: h.name, address: h.address, roles: [...h.roles], reachable: c.reachable, detail: c.detail };
  });
  const supervised = async (keys: string[]): Promise<{ supervision: Supervision | null; running: boolean; pid: number | null }> => {
    const found = await Promise.all(
      keys.map(async (key) => {
        const entry = ledger.get(key);
        if (!entry) return null;
        const ref = entry.state === 'done' ? refOf(entry) : null;
        return { supervision: await supervisionOf(provider, entry, ref, checks.get(entryHost(entry, ref))), ref };
      }),
    );
    const got = found.filter((x): x is NonNullable<typeof x> => x !== null);
    if (got.length === 0) return { supervision: null, running: false, pid: null };
    // several entries (one per instance, unsupervised): one summary
    const first = got[0]!.supervision;
    const supervision: Supervision = got.length === 1 ? first : { ...first, restarts: got.reduce((n, g) => n + g.supervision.restarts, 0), pids: got.flatMap((g) => g.supervision.pids), state: got.every((g) => g.supervision.pids.length > 0) ? 'running' : 'not all running' };
    const running = supervision.mode === 'lab' ? supervision.supervisorRunning && supervision.pids.length > 0 : got.every((g) => g.supervision.supervisorRunning);
    return { supervision, running, pid: supervision.pids[0] ?? (supervision.mode === 'lab' ? null : (got[0]!.ref?.pid ?? null)) };
  };
  const ours = await Promise.all(
    placements(topology).map(async (p): Promise<ServiceStatus> => {
      const { supervision, running, pid } = await supervised([p.service.key(p.host.name)]);
      let health: [boolean, string] = [false, running ? 'running' : supervision ? `not running (${supervision.state})` : 'never started'];
      if (running) {
        if (p.service.name === 'rabbitmq') health = await check(logins.broker, 'AMQP login ok');
        else if (p.service.name === 'redis') health = await check(async () => {
          await Promise.all([logins.backend(), kind === 'redis' ? logins.broker() : undefined]);
        }, kind === 'redis' ? 'AUTH + PING ok (backend and broker)' : 'AUTH + PING ok');
        else if (p.service.name === 'quotes') {
          health = await check(() => waitPort(state.services.quotes.address, state.services.quotes.port, 2000), `listening on ${state.services.quotes.port}`);
        } else if (p.service.name === LINK_PROXY) {
          const ports = proxiedPorts(topology, state).get(p.host.name) ?? [];
          health = await check(async () => void (await Promise.all(ports.map((x) => waitPort(p.host.address, x.port, 2000)))), `in front of ${ports.map((x) => `${x.service} :${x.port}`).join(', ')}`);
        } else {
          health = [true, 'running'];
        }
      }
      return { service: p.service.name, host: p.host.name, kind: 'lab', pid, running, health: health[1], healthy: running && health[0], supervision };
    }),
  );
  const own = await Promise.all(
    ownKeys.map(async ({ u, keys }): Promise<ServiceStatus> => {
      const { supervision, running, pid } = await supervised(keys);
      const ready = supervision?.mode === 'lab' ? supervision.state === 'ready' : running;
      const health = !supervision ? 'never started' : running ? (ready ? (supervision.mode === 'lab' ? 'ready' : 'running') : supervision.state) : `not running (${supervision.state})`;
      return { service: u.spec.name, host: u.host.name, kind: 'user', pid, running, health, healthy: running && ready, supervision };
    }),
  );
  // Services that already run: checked with a login, never started or stopped by lab.
  const external = await Promise.all(
    (['broker', 'backend'] as const).flatMap((which) => {
      const url = state.external?.[which];
      if (!url) return [];
      return [
        (async (): Promise<ServiceStatus> => {
          const [ok, health] = await check(() => login(which === 'broker' ? createBroker(url) : createBackend(url)), `${which === 'broker' && kind === 'rabbitmq' ? 'AMQP login' : 'AUTH + PING'} ok (external)`);
          return { service: which, host: state.services[which].host, kind: 'external', pid: null, running: ok, health, healthy: ok, supervision: null };
        })(),
      ];
    }),
  );
  const services = [...external, ...ours, ...own];
  let queues: LabStatus['queues'] = [];
  let workers: WorkerNode[] | null = null;
  if (reachedBroker(services, kind)) {
    [queues, workers] = await Promise.all([early.stats, early.survey]);
    // Workers online = consumers on their queues.
    for (const s of services.filter((x) => x.kind === 'lab' && x.service === 'workers' && x.running)) {
      const host = topology.host(s.host);
      const mine = queues.filter((q) => host?.queues.includes(q.name));
      if (mine.some((q) => q.consumers === null)) {
        s.health = 'running (this broker cannot count consumers)';
        continue;
      }
      const online = mine.reduce((n, q) => n + (q.consumers ?? 0), 0);
      s.health = online > 0 ? `consuming (${online} consumer${online === 1 ? '' : 's'} on ${host?.queues.join(', ')})` : 'running but not consuming';
      s.healthy = online > 0;
    }
  }
  return {
    lab: state.lab,
    provider: topology.provider,
    status: state.status,
    inventory: state.inventoryPath,
    hosts,
    services,
    queues,
    workers,
    broker: maskUrl(urls.brokerHere),
    brokerKind: kind,
    backend: maskUrl(urls.backendHere),
    persistence: redisPersistence(state),
    links: linksOf(topology),
    versions: state.versions ?? {},
    healthy: hosts.every((h) => h.reachable) && services.every((s) => s.healthy),
  };
}
