/**
 * RabbitMQ on the broker host. The node boots with a generated lab user, password and vhost from its config
 * (default_user/default_pass), so `guest` never exists in a lab and no rabbitmqctl round trips are needed.
 * It listens on the lab address only, logs to stdout (our log file), and runs as the rabbitmq user where the
 * provider can do that (netns, ssh), so its data directory belongs to that user — 0700, its files 0600 (umask 077).
 * Supervised like every service of the lab (supervision.ts): killed, it is started again on the same data.
 * Not run at all when the broker is Redis (`broker: { kind: redis }`).
 */
import { ServiceError } from '../errors.js';
import { createBroker } from '../queue/index.js';
import type { ProcessRef } from '../providers/provider.js';
import { SERVICE_DEFAULTS, brokerKindOf, isExternal } from '../topology/topology.js';
import type { HostSpec } from '../topology/topology.js';
import { bindAddress, layer, login, mustExec, waitServicePort } from './service.js';
import { startService } from './supervision.js';
import type { Service, ServiceContext } from './service.js';

/**
 * Debian's /usr/sbin/rabbitmq-server is a wrapper that switches user with `su` (a process in between) and sends
 * the output to /var/log/rabbitmq; the script it wraps runs RabbitMQ in the foreground. Elsewhere (the official
 * image, a tarball install) rabbitmq-server on the PATH is that script itself.
 */
const DEBIAN_SERVER = '/usr/lib/rabbitmq/bin/rabbitmq-server';

async function serverCommand(ctx: ServiceContext, host: string): Promise<string> {
  const r = await ctx.provider.exec(host, ['test', '-x', DEBIAN_SERVER]);
  return r.exitCode === 0 ? DEBIAN_SERVER : 'rabbitmq-server';
}

/**
 * The user RabbitMQ runs as: `rabbitmq` where the host has it (Debian's package and the official image both make one,
 * with different uids — found, not assumed); the host's own user elsewhere (local provider, an image without it).
 * Where the images' layouts differ: images/role-images.ts.
 */
async function serverUser(ctx: ServiceContext, host: HostSpec): Promise<string | undefined> {
  if (ctx.topology.provider === 'local') return undefined;
  const r = await ctx.provider.exec(host.name, ['getent', 'passwd', 'rabbitmq']).catch(() => null);
  return r?.exitCode === 0 ? 'rabbitmq' : undefined;
}

function dirs(ctx: ServiceContext, host: string): { base: string; conf: string; plugins: string } {
  const base = `${ctx.provider.host(host).workDir}/rabbitmq`;
  return { base, conf: `${base}/rabbitmq.conf`, plugins: `${base}/enabled_plugins` };
}

/** Config values are written one per line; reject anything that could break out of a line. */
function confValue(v: string): string {
  if (/[\r\n]/.test(v)) throw new ServiceError('a RabbitMQ config value contains a newline');
  return v;
}

export const rabbitmqService: Service = {
  name: 'rabbitmq',
  role: 'broker',
  key: (host) => `proc:${host}:rabbitmq`,
  enabled: (topology) => brokerKindOf(topology) === 'rabbitmq' && !isExternal(topology, 'broker'),

  async start(ctx, host: HostSpec): Promise<ProcessRef> {
    const { provider, state } = ctx;
    const info = provider.host(host.name);
    const d = dirs(ctx, host.name);
    const { user, password, vhost } = state.credentials.rabbitmq;
    const port = state.services.broker.port;
    const asUser = await serverUser(ctx, host);
    await mustExec(ctx, host.name, ['mkdir', '-p', `${d.base}/mnesia`, `${d.base}/log`], { sudo: host.sudo });
    const conf = [
      `listeners.tcp.1 = ${bindAddress(ctx, host.name)}:${port}`,
      `default_user = ${confValue(user)}`,
      `default_pass = ${confValue(password)}`,
      `default_vhost = ${confValue(vhost)}`,
      'default_permissions.configure = .*',
      'default_permissions.read = .*',
      'default_permissions.write = .*',
      // A worker holds an ETA/countdown task unacked until it is due (Celery does the same); RabbitMQ's default
      // consumer_timeout (30 min) would close its channel first. A year here; users' own brokers: see README.
      'consumer_timeout = 31536000000',
      'log.console = true',
      'log.console.level = info',
      'log.file = false',
      '',
    ].join('\n');
    await provider.writeFile(host.name, d.conf, conf, { mode: 0o600, sudo: host.sudo, owner: asUser });
    await provider.writeFile(host.name, d.plugins, '[].\n', { mode: 0o600, sudo: host.sudo, owner: asUser });
    if (asUser) await mustExec(ctx, host.name, ['chown', '-R', `${asUser}:${asUser}`, d.base], { sudo: host.sudo });
    // its data is the lab's messages: nobody else's to read (the files RabbitMQ makes get its umask, 077)
    await mustExec(ctx, host.name, ['chmod', '700', d.base, `${d.base}/mnesia`, `${d.base}/log`], { sudo: host.sudo });
    return startService(provider, ctx.topology.name, {
      key: this.key(host.name),
      name: 'rabbitmq',
      host: host.name,
      command: [await serverCommand(ctx, host.name)],
      // Erlang looks for code in "." too: a folder of its own, not wherever lab up was started (unreadable to its user)
      cwd: d.base,
      logFile: `${info.workDir}/logs/rabbitmq.log`,
      user: asUser,
      sudo: host.sudo,
      umask: 0o077,
      ready: { port, addresses: [bindAddress(ctx, host.name)] },
      restart: 'always',
      maxRestarts: SERVICE_DEFAULTS.maxRestarts,
      stopGraceMs: 10_000,
      env: {
        RABBITMQ_NODENAME: `lab-${ctx.topology.name}@localhost`,
        RABBITMQ_NODE_PORT: String(port),
        RABBITMQ_DIST_PORT: String(port + 20000),
        RABBITMQ_CONFIG_FILE: d.conf,
        RABBITMQ_ENABLED_PLUGINS_FILE: d.plugins,
        RABBITMQ_MNESIA_BASE: `${d.base}/mnesia`,
        RABBITMQ_LOG_BASE: `${d.base}/log`,
        RABBITMQ_LOGS: '-',
        // Only AMQP faces the network: Erlang distribution and epmd (for rabbitmqctl on this host) stay on loopback.
        RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
        ERL_EPMD_ADDRESS: '127.0.0.1',
        HOME: d.base,
      },
    });
  },

  async ready(ctx, host, ref) {
    const b = ctx.state.services.broker;
    // Erlang's boot takes 5-8 s on an idle machine but over 30 s on a loaded one (seen: a shared CI box at load 18, and
    // a Raspberry Pi is slower still); a server that dies is noticed at once (alive), so the long wait costs nothing then
    await layer(ctx, host.name, 'rabbitmq', `port ${b.port}`, ref, () => waitServicePort(ctx, host.name, 'rabbitmq', b.address, b.port, 90_000, ref));
    await layer(ctx, host.name, 'rabbitmq', 'AMQP login as the lab user', ref, async () => {
      const deadline = Date.now() + 15_000;
      // The port opens a moment before the default user exists: retry the login briefly.
      for (;;) {
        try {
          return await login(createBroker(ctx.urls.brokerHere));
        } catch (err) {
          if (Date.now() > deadline) throw err;
          await new Promise((r) => setTimeout(r, 250));
        }
      }
    });
  },

  async version(ctx, host, ref) {
    if (!ref) return undefined;
    const log = (await ctx.provider.readFile(host.name, ref.logFile, { tailBytes: 200_000 }).catch(() => Buffer.alloc(0))).toString('utf8');
    return /RabbitMQ (\d+\.\d+\.\d+)/.exec(log)?.[1];
  },
};
