/**
 * Redis on the backend host: bound to the lab address, a generated password (requirepass), nothing kept on disk.
 * The password is in a 0600 config file, never on a command line other users could read with ps.
 */
import { ServiceError } from '../errors.js';
import { createBackend } from '../queue/index.js';
import type { ProcessRef } from '../providers/provider.js';
import type { HostSpec } from '../topology/topology.js';
import { layer, login, mustExec, waitPort } from './service.js';
import type { Service, ServiceContext } from './service.js';

export const redisService: Service = {
  name: 'redis',
  role: 'backend',
  key: (host) => `proc:${host}:redis`,

  async start(ctx: ServiceContext, host: HostSpec): Promise<ProcessRef> {
    const { provider, state } = ctx;
    const info = provider.host(host.name);
    const base = `${info.workDir}/redis`;
    await mustExec(ctx, host.name, ['mkdir', '-p', base], { sudo: host.sudo });
    const password = state.credentials.redis.password;
    if (/[\s"'\\]/.test(password)) throw new ServiceError('the generated Redis password has characters a config line cannot hold');
    const conf = [
      `bind ${info.address}`,
      `port ${state.services.backend.port}`,
      `requirepass ${password}`,
      'save ""',
      'appendonly no',
      `dir ${base}`,
      'daemonize no',
      'logfile ""',
      'protected-mode yes',
      '',
    ].join('\n');
    await provider.writeFile(host.name, `${base}/redis.conf`, conf, { mode: 0o600, sudo: host.sudo });
    return provider.spawn(host.name, ['redis-server', `${base}/redis.conf`], { key: this.key(host.name), logFile: `${info.workDir}/logs/redis.log`, sudo: host.sudo });
  },

  async ready(ctx, host, ref) {
    const b = ctx.state.services.backend;
    await layer(ctx, host.name, 'redis', `port ${b.port}`, ref, () => waitPort(b.address, b.port, 10_000, ref ? () => ctx.provider.alive(ref) : undefined));
    await layer(ctx, host.name, 'redis', 'AUTH + PING', ref, () => login(createBackend(ctx.urls.backendHere)));
  },

  async version(ctx, host) {
    const r = await ctx.provider.exec(host.name, ['redis-server', '--version']).catch(() => null);
    return r ? /v=(\S+)/.exec(r.stdout)?.[1] : undefined;
  },
};
