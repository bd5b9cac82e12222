/** The quote server on the quotes host (the currency scenario's "internet"): `lab serve-quotes`. */
import type { ProcessRef } from '../providers/provider.js';
import { SERVICE_DEFAULTS } from '../topology/topology.js';
import type { HostSpec } from '../topology/topology.js';
import { bindAddress, layer, waitServicePort } from './service.js';
import type { Service, ServiceContext } from './service.js';
import { startService } from './supervision.js';

export const quotesService: Service = {
  name: 'quotes',
  role: 'quotes',
  key: (host) => `proc:${host}:quotes`,

  async start(ctx: ServiceContext, host: HostSpec): Promise<ProcessRef> {
    const info = ctx.provider.host(host.name);
    const port = ctx.state.services.quotes.port;
    const argv = [info.node, `${info.labRoot}/bin/lab.js`, 'serve-quotes', '--host', bindAddress(ctx, host.name), '--port', String(port)];
    return startService(ctx.provider, ctx.topology.name, {
      key: this.key(host.name),
      name: 'quotes',
      host: host.name,
      command: argv,
      logFile: `${info.workDir}/logs/quotes.log`,
      ready: { port, addresses: [bindAddress(ctx, host.name)] },
      restart: 'always',
      maxRestarts: SERVICE_DEFAULTS.maxRestarts,
    });
  },

  async ready(ctx, host, ref) {
    const q = ctx.state.services.quotes;
    await layer(ctx, host.name, 'quotes', `port ${q.port}`, ref, () => waitServicePort(ctx, host.name, 'quotes', q.address, q.port, 10_000, ref));
  },
};
