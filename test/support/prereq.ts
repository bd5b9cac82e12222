/**
 * Tier gating. A test that needs a real service (RabbitMQ, Redis, root for namespaces, Python Celery, Podman)
 * calls `needs(t, what, check)`. Outside CI a missing prerequisite skips the test *loudly* (a warning on stderr
 * naming what is missing and how to get it). Under CI=true it fails: CI must never go green by skipping.
 */
import type { TestContext } from 'node:test';

export const IN_CI = process.env.CI === 'true' || process.env.CI === '1';

const cache = new Map<string, Promise<string | null>>();

/**
 * `check` resolves null when the prerequisite is there, or a reason string when it is not.
 * Returns true when the test may go on.
 */
export async function needs(t: TestContext, what: string, check: () => Promise<string | null>): Promise<boolean> {
  let p = cache.get(what);
  if (!p) {
    p = check().catch((err: unknown) => (err instanceof Error ? err.message : String(err)));
    cache.set(what, p);
  }
  const missing = await p;
  if (missing === null) return true;
  const message = `prerequisite missing: ${what}: ${missing}`;
  if (IN_CI) throw new Error(`${message} (CI=true: a missing prerequisite is a failure, not a skip)`);
  process.stderr.write(`\n*** SKIPPED ${t.name}: ${message}\n`);
  t.skip(message);
  return false;
}

export const RABBITMQ_URL = process.env.LAB_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672//';
export const REDIS_URL = process.env.LAB_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';

import { tcpOpen } from '../../support/tcp-open.js';
export { tcpOpen };

/** host:port of a service URL (amqp://…@host:port//, redis://…@host:port/0), with the scheme's default port. */
export function endpointOf(url: string): { host: string; port: number } {
  const u = new URL(url);
  const defaults: Record<string, number> = { 'amqp:': 5672, 'amqps:': 5671, 'redis:': 6379, 'rediss:': 6379 };
  return { host: u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1', port: u.port ? Number(u.port) : (defaults[u.protocol] ?? 0) };
}

function serviceAt(t: TestContext, name: string, url: string, env: string): Promise<boolean> {
  const { host, port } = endpointOf(url);
  return needs(t, `${name} on ${host}:${port} (${env})`, () => tcpOpen(host, port));
}

/** The RabbitMQ and Redis the tests use: LAB_TEST_AMQP_URL / LAB_TEST_REDIS_URL, else the local ones. Probed where they point. */
export const rabbitmq = (t: TestContext): Promise<boolean> => serviceAt(t, 'RabbitMQ', RABBITMQ_URL, 'LAB_TEST_AMQP_URL');
export const redis = (t: TestContext): Promise<boolean> => serviceAt(t, 'Redis', REDIS_URL, 'LAB_TEST_REDIS_URL');
export const root = (t: TestContext): Promise<boolean> =>
  needs(t, 'root (network namespaces)', async () => (process.getuid?.() === 0 ? null : 'these tests create network namespaces and must run as root'));

/** The binaries `lab up` starts on the lab's hosts (every provider but docker with official images needs them here). */
export const serviceBinaries = (t: TestContext, extra: string[] = []): Promise<boolean> =>
  needs(t, ['rabbitmq-server', 'redis-server', ...extra].join(', '), async () => {
    const { access } = await import('node:fs/promises');
    for (const f of ['/usr/lib/rabbitmq/bin/rabbitmq-server', '/usr/bin/redis-server', ...extra]) {
      try {
        await access(f);
      } catch {
        return `${f} is missing (apt-get install rabbitmq-server redis-server openssh-server)`;
      }
    }
    return null;
  });
