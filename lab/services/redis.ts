/**
 * Redis on the backend host: bound to the lab address, a generated password (requirepass) in a 0600 config file
 * (never on a command line other users could read with ps). By default it keeps an append-only file fsync'd every
 * second (`appendonly yes`, `appendfsync everysec`; no RDB snapshots), so the results stored before a crash are
 * there after its supervisor started it again — at most a second of writes lost; the inventory's
 * `backend: { persistence: false }` keeps nothing on disk. Its folder is 0700 and its files 0600 (umask 077).
 * With `broker: { kind: redis }` it is the broker too: the messages in a database of their own (REDIS_BROKER_DB).
 */
import { ServiceError } from '../errors.js';
import { createBackend, createBroker } from '../queue/index.js';
import type { ProcessRef } from '../providers/provider.js';
import { SERVICE_DEFAULTS, brokerKindOf, isExternal, redisPersistenceOf } from '../topology/topology.js';
import type { HostSpec } from '../topology/topology.js';
import { bindAddress, layer, login, mustExec, waitServicePort } from './service.js';
import type { Service, ServiceContext } from './service.js';
import { startService } from './supervision.js';

/** The lines of redis.conf that say what is kept on disk. */
export function persistenceConf(persistence: boolean): string[] {
  return persistence ? ['save ""', 'appendonly yes', 'appendfsync everysec'] : ['save ""', 'appendonly no'];
}

/**
 * Redis 6.2 and later: `set-proc-title no`. Otherwise Redis writes its process title over the memory that held its
 * environment, /proc/<pid>/environ reads empty, and the lab token there — what `lab down --discover` finds a lab's
 * processes by when its state is gone — with it (on an ssh host without a supervisor Redis itself carries the token).
 * Older Redis knows no such line and would not start with it; there, discover cannot see Redis (docs/architecture.md).
 */
export function procTitleConf(version: string | undefined): string[] {
  const m = /^(\d+)\.(\d+)\./.exec(version ?? '');
  return m && Number(m[1]) * 100 + Number(m[2]) >= 602 ? ['set-proc-title no'] : [];
}

/** `redis-server --version`'s v=…, undefined when it cannot tell. */
async function redisVersion(ctx: ServiceContext, host: string): Promise<string | undefined> {
  const r = await ctx.provider.exec(host, ['redis-server', '--version']).catch(() => null);
  return r ? /v=(\S+)/.exec(r.stdout)?.[1] : undefined;
}

export const redisService: Service = {
  name: 'redis',
  role: 'backend',
  key: (host) => `proc:${host}:redis`,
  // an external backend (and with it an external Redis broker) runs already: lab starts no Redis
  enabled: (topology) => !isExternal(topology, 'backend'),

  async start(ctx: ServiceContext, host: HostSpec): Promise<ProcessRef> {
    const { provider, state } = ctx;
    const info = provider.host(host.name);
    const base = `${info.workDir}/redis`;
    await mustExec(ctx, host.name, ['mkdir', '-p', base], { sudo: host.sudo });
    await mustExec(ctx, host.name, ['chmod', '700', base], { sudo: host.sudo });
    const password = state.credentials.redis.password;
    if (/[\s"'\\]/.test(password)) throw new ServiceError('the generated Redis password has characters a config line cannot hold');
    const conf = [
      `bind ${bindAddress(ctx, host.name)}`,
      `port ${state.services.backend.port}`,
      `requirepass ${password}`,
      ...persistenceConf(redisPersistenceOf(ctx.topology)),
      `dir ${base}`,
      'daemonize no',
      'logfile ""',
      'protected-mode yes',
      ...procTitleConf(await redisVersion(ctx, host.name)),
      '',
    ].join('\n');
    await provider.writeFile(host.name, `${base}/redis.conf`, conf, { mode: 0o600, sudo: host.sudo });
    return startService(provider, ctx.topology.name, {
      key: this.key(host.name),
      name: 'redis',
      host: host.name,
      command: ['redis-server', `${base}/redis.conf`],
      cwd: base,
      logFile: `${info.workDir}/logs/redis.log`,
      sudo: host.sudo,
      umask: 0o077,
      ready: { port: state.services.backend.port, addresses: [bindAddress(ctx, host.name)] },
      restart: 'always',
      maxRestarts: SERVICE_DEFAULTS.maxRestarts,
    });
  },

  async ready(ctx, host, ref) {
    const b = ctx.state.services.backend;
    await layer(ctx, host.name, 'redis', `port ${b.port}`, ref, () => waitServicePort(ctx, host.name, 'redis', b.address, b.port, 10_000, ref));
    await layer(ctx, host.name, 'redis', 'AUTH + PING', ref, () => login(createBackend(ctx.urls.backendHere)));
    if (brokerKindOf(ctx.topology) === 'redis') await layer(ctx, host.name, 'redis', 'the broker database', ref, () => login(createBroker(ctx.urls.brokerHere)));
  },

  version: (ctx, host) => redisVersion(ctx, host.name),
};
