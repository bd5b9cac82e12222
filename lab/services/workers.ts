/**
 * The worker pool on each workers host: `lab worker -A scenarios` with the host's concurrency, pool and queues,
 * connected to the lab's broker and backend by host name (URLs with passwords go through the environment, never
 * the command line). Ready when a canary task (test.echo) makes the round trip through the lab.
 */
import { ServiceError, hasCode } from '../errors.js';
import { App } from '../queue/index.js';
import type { ProcessRef } from '../providers/provider.js';
import type { HostSpec } from '../topology/topology.js';
import { layer } from './service.js';
import type { LabUrls, Service, ServiceContext } from './service.js';
import { workerArgv } from './worker-group.js';

/** What a lab worker on a host finds in its environment: the broker, the backend, the quote server. */
export function workerEnv(urls: LabUrls): Record<string, string> {
  return { LAB_BROKER_URL: urls.brokerInLab, LAB_BACKEND_URL: urls.backendInLab, LAB_QUOTES_URL: urls.quotesInLab };
}

export const workersService: Service = {
  name: 'workers',
  role: 'workers',
  key: (host) => `proc:${host}:workers`,

  async start(ctx: ServiceContext, host: HostSpec): Promise<ProcessRef> {
    const info = ctx.provider.host(host.name);
    const argv = workerArgv(info.node, info.labRoot, { modules: ['scenarios'], concurrency: host.concurrency, pool: host.pool, queues: host.queues, nodeName: `celery@${host.name}` });
    return ctx.provider.spawn(host.name, argv, { key: this.key(host.name), logFile: `${info.workDir}/logs/workers.log`, env: workerEnv(ctx.urls) });
  },

  async ready(ctx, host, ref) {
    await layer(ctx, host.name, 'workers', 'canary task round trip', ref, async () => {
      const app = new App('lab-canary', { broker: ctx.urls.brokerHere, backend: ctx.urls.backendHere });
      try {
        const deadline = Date.now() + 20_000;
        const queue = host.queues[0];
        const r = await app.sendTask('test.echo', ['canary'], {}, { queue });
        for (;;) {
          if (ref && !(await ctx.provider.alive(ref))) throw new ServiceError('the worker process exited', { code: 'E_PROCESS_EXITED' });
          try {
            const v = await r.get({ timeout: 1 });
            if (v !== 'canary') throw new ServiceError(`canary came back as ${JSON.stringify(v)}`);
            return;
          } catch (err) {
            if (!hasCode(err, 'E_TASK_TIMEOUT') || Date.now() > deadline) throw err;
          }
        }
      } finally {
        await app.close();
      }
    });
  },
};
