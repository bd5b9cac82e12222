/**
 * Services that already run (inventory `broker:` / `backend:` with `external: true, url_env: NAME`): their URLs come
 * from the environment when `lab up` runs, and are checked — the port, then a protocol login (AMQP, Redis AUTH +
 * PING) — before anything of the lab is created. Refused credentials are a configuration mistake (exit 2) named
 * with the masked URL and the variable it came from; lab never starts, stops or changes these services.
 */
import { ConfigError, LabError, hasCode, maskUrl } from '../errors.js';
import { createBackend, createBroker } from '../queue/index.js';
import { login, waitPort } from '../services/service.js';
import type { Progress } from '../providers/provider.js';
import type { ExternalUrls } from '../topology/state.js';
import { brokerKindOf } from '../topology/topology.js';
import type { Topology } from '../topology/topology.js';

/** How long `lab up` waits for an external service's port (a CI service container may still be starting). */
export const EXTERNAL_WAIT_MS = 30_000;

export class ExternalServiceError extends LabError {
  constructor(code: 'E_EXTERNAL_REFUSED' | 'E_EXTERNAL_UNREACHABLE', message: string, options: { cause?: unknown } = {}) {
    super(code, message, { exitCode: code === 'E_EXTERNAL_REFUSED' ? 2 : 1, cause: options.cause });
  }
}

const SCHEMES = { rabbitmq: /^amqps?:\/\//i, redis: /^rediss?:\/\//i } as const;

/** The external services' URLs from the environment; a missing variable or a URL of the wrong kind is exit 2. */
export function externalUrls(t: Topology, env: NodeJS.ProcessEnv = process.env): ExternalUrls {
  const out: ExternalUrls = {};
  for (const which of ['broker', 'backend'] as const) {
    const spec = t[which];
    if (!spec?.external || !spec.urlEnv) continue;
    const url = env[spec.urlEnv]?.trim();
    const field = `${which}.url_env`;
    if (!url) throw new ConfigError(`expected the environment variable ${spec.urlEnv} to hold the ${which}'s URL (external: true), got ${env[spec.urlEnv] === undefined ? 'no such variable' : 'an empty value'}`, { file: t.file, field });
    const kind = which === 'broker' ? brokerKindOf(t) : 'redis';
    if (!SCHEMES[kind].test(url)) {
      const want = kind === 'rabbitmq' ? 'amqp://user:password@host:5672/vhost' : 'redis://[user]:password@host:6379/0';
      throw new ConfigError(`expected ${spec.urlEnv} to hold a ${kind} URL like ${want}, got ${maskUrl(url)}`, { file: t.file, field });
    }
    try {
      new URL(url);
    } catch {
      throw new ConfigError(`expected ${spec.urlEnv} to hold a URL, got ${maskUrl(url)}, which does not parse`, { file: t.file, field });
    }
    out[which] = url;
  }
  return out;
}

/** Check each external service: its port, then a login. Nothing is started whatever the outcome. */
export async function checkExternal(t: Topology, urls: ExternalUrls, progress: Progress, waitMs = EXTERNAL_WAIT_MS): Promise<void> {
  const checks = (['broker', 'backend'] as const).flatMap((which) => {
    const url = urls[which];
    return url ? [{ which, url, env: t[which]!.urlEnv! }] : [];
  });
  await Promise.all(
    checks.map(async ({ which, url, env }) => {
      const shown = `${which} ${maskUrl(url)} (from $${env})`;
      const u = new URL(url);
      const kind = which === 'broker' ? brokerKindOf(t) : 'redis';
      const port = u.port ? Number(u.port) : kind === 'rabbitmq' ? (u.protocol === 'amqps:' ? 5671 : 5672) : 6379;
      const host = u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
      progress({ step: `external ${which}`, status: 'start', detail: `${maskUrl(url)}: port ${port}` });
      try {
        await waitPort(host, port, waitMs);
      } catch (err) {
        throw new ExternalServiceError('E_EXTERNAL_UNREACHABLE', `${shown}: ${err instanceof Error ? err.message : String(err)}; nothing was started`, { cause: err });
      }
      const step = kind === 'rabbitmq' ? 'AMQP login' : 'AUTH + PING';
      try {
        await login(which === 'broker' ? createBroker(url) : createBackend(url));
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        if (hasCode(err, 'E_BROKER_AUTH', 'E_BROKER_VHOST', 'E_BACKEND_AUTH')) throw new ExternalServiceError('E_EXTERNAL_REFUSED', `${shown} refused the credentials (${step}): ${why}; nothing was started`, { cause: err });
        throw new ExternalServiceError('E_EXTERNAL_UNREACHABLE', `${shown}: ${step} failed: ${why}; nothing was started`, { cause: err });
      }
      progress({ step: `external ${which}`, status: 'done', detail: `${maskUrl(url)}: ${step} ok (lab will not start or stop it)` });
    }),
  );
}
