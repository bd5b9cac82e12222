/**
 * The link proxy as a service of the lab (inventory `links: proxy`): one `lab link-proxy` per service host, under
 * lab's supervisor like every service, recorded in the ledger (proc:<HOST>:link-proxy) and so stopped by `lab down`
 * and shown by `lab status`. It is started before the services behind it, which listen on the host's loopback.
 * It needs lab's Node on the host: a host lab does not supervise (the official images of a docker lab, an ssh host
 * without lab) cannot have one, and `lab up` says so.
 */
import { posix } from 'node:path';
import { ServiceError } from '../errors.js';
import type { ProcessRef, Provider } from '../providers/provider.js';
import type { LabState } from '../topology/state.js';
import { SERVICE_DEFAULTS, brokerKindOf, isExternal, linksOf } from '../topology/topology.js';
import type { HostSpec, Topology } from '../topology/topology.js';
import type { LinkProxySpec } from './link-proxy.js';
import { layer, mustExec, waitPort } from './service.js';
import type { Service, ServiceContext } from './service.js';
import { startService } from './supervision.js';

export const LINK_PROXY = 'link-proxy';

/** The services lab runs itself, per host, with their ports: what the proxies stand in front of. */
export function proxiedPorts(topology: Topology, state: Pick<LabState, 'services'>): Map<string, { service: string; port: number }[]> {
  const out = new Map<string, { service: string; port: number }[]>();
  const add = (role: 'broker' | 'backend' | 'quotes', service: string, port: number): void => {
    const h = topology.roleHosts(role)[0];
    if (!h) return;
    out.set(h.name, [...(out.get(h.name) ?? []), { service, port }]);
  };
  if (brokerKindOf(topology) === 'rabbitmq' && !isExternal(topology, 'broker')) add('broker', 'rabbitmq', state.services.broker.port);
  if (!isExternal(topology, 'backend')) add('backend', 'redis', state.services.backend.port);
  add('quotes', 'quotes', state.services.quotes.port);
  return out;
}

/** The hosts with a link proxy (none unless `links: proxy`). */
export function linkProxyHosts(topology: Topology): HostSpec[] {
  if (linksOf(topology) !== 'proxy') return [];
  const names = new Set([...(['broker', 'backend', 'quotes'] as const).flatMap((r) => topology.roleHosts(r).map((h) => h.name))]);
  return topology.hosts.filter((h) => names.has(h.name)) as HostSpec[];
}

/** Where a host's proxy reads its rules: one file per slow-link fault in effect. */
export function linkRulesDir(provider: Pick<Provider, 'host'>, host: string): string {
  return posix.join(provider.host(host).workDir, LINK_PROXY, 'rules');
}

export const linkProxyService: Service = {
  name: LINK_PROXY,
  role: 'broker',
  hosts: linkProxyHosts,
  enabled: (topology) => linksOf(topology) === 'proxy',
  key: (host) => `proc:${host}:${LINK_PROXY}`,

  async start(ctx: ServiceContext, host: HostSpec): Promise<ProcessRef> {
    const info = ctx.provider.host(host.name);
    if (info.supervisor !== 'lab') {
      throw new ServiceError(`links: proxy needs lab's link proxy on ${host.name}, which has no lab to run it (${ctx.provider.kind === 'docker' ? "the broker and backend images run without lab's Node" : 'lab is not shipped to it'}); use links: direct`, { host: host.name, code: 'E_SETUP' });
    }
    const ports = proxiedPorts(ctx.topology, ctx.state).get(host.name) ?? [];
    const spec: LinkProxySpec = { address: info.address, ports: ports.map((p) => ({ ...p, target: { host: '127.0.0.1', port: p.port } })), rulesDir: linkRulesDir(ctx.provider, host.name) };
    const dir = posix.join(info.workDir, LINK_PROXY);
    // the rules folder outlives a proxy restart: a fault in effect (its file) stays in effect, and is healed from the ledger
    await mustExec(ctx, host.name, ['mkdir', '-p', spec.rulesDir]);
    await ctx.provider.writeFile(host.name, `${dir}/spec.json`, `${JSON.stringify(spec, null, 2)}\n`, { mode: 0o600 });
    return startService(ctx.provider, ctx.topology.name, {
      key: this.key(host.name),
      name: LINK_PROXY,
      host: host.name,
      command: [info.node, `${info.labRoot}/bin/lab.js`, 'link-proxy', `${dir}/spec.json`],
      logFile: `${info.workDir}/logs/${LINK_PROXY}.log`,
      ready: ports[0] ? { port: ports[0].port, addresses: [info.address] } : {},
      restart: 'always',
      maxRestarts: SERVICE_DEFAULTS.maxRestarts,
    });
  },

  async ready(ctx, host, ref) {
    for (const p of proxiedPorts(ctx.topology, ctx.state).get(host.name) ?? []) {
      await layer(ctx, host.name, LINK_PROXY, `${p.service} port ${p.port}`, ref, () => waitPort(host.address, p.port, 10_000, ref ? () => ctx.provider.alive(ref) : undefined));
    }
  },
};
