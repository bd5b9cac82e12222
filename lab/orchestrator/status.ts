/** `lab status`: hosts, services (process, port, protocol), queue depth and workers online, from the lab's state. */
import { maskUrl } from '../errors.js';
import { createBroker, createBackend } from '../queue/index.js';
import { login, waitPort } from '../services/service.js';
import type { OpenLab } from './lab-ref.js';
import { placements, recordedProcess } from './services.js';

export interface ServiceStatus {
  service: string;
  host: string;
  pid: number | null;
  running: boolean;
  /** What was checked and how it went, e.g. "AMQP login ok". */
  health: string;
  healthy: boolean;
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
  broker: string;
  backend: string;
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
  const hosts = await Promise.all(
    topology.hosts.map(async (h) => {
      const r = await provider.exec(h.name, ['true'], { timeoutMs: 5000 }).then(
        (x) => [x.exitCode === 0, x.exitCode === 0 ? 'reachable' : `exit ${x.exitCode}`] as const,
        (e: Error) => [false, e.message] as const,
      );
      return { name: h.name, address: h.address, roles: [...h.roles], reachable: r[0], detail: r[1] };
    }),
  );
  const services = await Promise.all(
    placements(topology).map(async (p): Promise<ServiceStatus> => {
      const ref = recordedProcess(ledger, p);
      const running = ref ? await provider.alive(ref).catch(() => false) : false;
      let health: [boolean, string] = [false, running ? 'running' : ref ? 'not running' : 'never started'];
      if (running) {
        if (p.service.name === 'rabbitmq') health = await check(() => login(createBroker(urls.brokerHere)), 'AMQP login ok');
        else if (p.service.name === 'redis') health = await check(() => login(createBackend(urls.backendHere)), 'AUTH + PING ok');
        else if (p.service.name === 'quotes') {
          health = await check(() => waitPort(state.services.quotes.address, state.services.quotes.port, 2000), `listening on ${state.services.quotes.port}`);
        } else {
          health = [true, 'running'];
        }
      }
      return { service: p.service.name, host: p.host.name, pid: ref?.pid ?? null, running, health: health[1], healthy: running && health[0] };
    }),
  );
  const queueNames = [...new Set(topology.roleHosts('workers').flatMap((h) => h.queues))];
  let queues: LabStatus['queues'] = [];
  const brokerOk = services.find((s) => s.service === 'rabbitmq')?.healthy;
  if (brokerOk) {
    const b = await createBroker(urls.brokerHere);
    try {
      await b.ready();
      queues = await Promise.all(queueNames.map((q) => b.stats(q).then((s) => ({ name: q, messages: s.messages, consumers: s.consumers }))));
    } catch {
      queues = [];
    } finally {
      await b.close().catch(() => undefined);
    }
    // Workers online = consumers on their queues.
    for (const s of services.filter((x) => x.service === 'workers' && x.running)) {
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
    broker: maskUrl(urls.brokerHere),
    backend: maskUrl(urls.backendHere),
    versions: state.versions ?? {},
    healthy: hosts.every((h) => h.reachable) && services.every((s) => s.healthy),
  };
}
