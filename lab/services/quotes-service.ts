/** The quote server on the quotes host (the currency scenario's "internet"): `lab serve-quotes`. */
import type { ProcessRef } from '../providers/provider.js';
import type { HostSpec } from '../topology/topology.js';
import { layer, waitPort } from './service.js';
import type { Service, ServiceContext } from './service.js';

export const quotesService: Service = {
  name: 'quotes',
  role: 'quotes',
  key: (host) => `proc:${host}:quotes`,

  async start(ctx: ServiceContext, host: HostSpec): Promise<ProcessRef> {
    const info = ctx.provider.host(host.name);
    const argv = [info.node, `${info.labRoot}/bin/lab.js`, 'serve-quotes', '--host', info.address, '--port', String(ctx.state.services.quotes.port)];
    return ctx.provider.spawn(host.name, argv, { key: this.key(host.name), logFile: `${info.workDir}/logs/quotes.log` });
  },

  async ready(ctx, host, ref) {
    const q = ctx.state.services.quotes;
    await layer(ctx, host.name, 'quotes', `port ${q.port}`, ref, () => waitPort(q.address, q.port, 10_000, ref ? () => ctx.provider.alive(ref) : undefined));
  },
};
