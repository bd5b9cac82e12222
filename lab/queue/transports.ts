/**
 * URL → adapter. Adapters are imported lazily so a memory-only run never loads amqplib or ioredis,
 * and nothing above this file names a transport library.
 */
import { maskUrl } from '../errors.js';
import { UrlError } from './errors.js';
import type { Broker } from './broker.js';
import type { ResultBackend } from './backend.js';
import type { MemoryTransports } from './memory-transports.js';

/** Celery's broker_transport_options that lab reads (others are ignored, as kombu ignores what a transport lacks). */
export interface BrokerTransportOptions {
  confirm_publish?: boolean;
  /** Redis broker: seconds before a vanished consumer's unacked message is restored (kombu's; default 3600). */
  visibility_timeout?: number;
  [other: string]: unknown;
}

export interface TransportOptions {
  /** Where memory:// URLs live: the embedded lab's hub. Without one, a memory:// URL is a UrlError. */
  memory?: MemoryTransports | null;
}

function schemeOf(url: string): string {
  const m = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url);
  if (!m) throw new UrlError(`not a URL: ${maskUrl(url)} (expected e.g. amqp://user:pass@HOST1:5672// or redis://HOST2:6379/0)`);
  return m[1].toLowerCase();
}

/** memory://<name> names one of the hub's transports; memory:// is 'default'. */
function memoryHub(url: string, memory: MemoryTransports | null | undefined): { hub: MemoryTransports; name: string } {
  if (!memory) throw new UrlError(`${maskUrl(url)}: memory:// only exists inside an embedded lab (an app bound to its MemoryTransports hub)`);
  return { hub: memory, name: url.replace(/^memory:\/\//i, '').replace(/\/+$/, '') || 'default' };
}

/** A URL the WHATWG parser cannot read (bad port, unbalanced [ ], spaces) is a usage error, said before connecting. */
function checkParses(url: string, example: string): void {
  try {
    new URL(url);
  } catch {
    throw new UrlError(`not a valid URL: ${maskUrl(url)} (expected e.g. ${example})`);
  }
}

/** The URL schemes each network adapter serves (createBroker, createBackend and preloadTransports read them). */
const AMQP_SCHEMES: readonly string[] = ['amqp', 'amqps', 'pyamqp', 'pyamqps'];
const REDIS_SCHEMES: readonly string[] = ['redis', 'rediss'];

/**
 * Load the adapter modules these URLs will need, without connecting: a command that connects later (lab up's logins
 * and canaries) overlaps their loading — amqplib and ioredis, ~0.2 s of a loaded machine's CPU — with its waits on
 * other processes. Never fails: a bad URL is reported when it is used.
 */
export function preloadTransports(urls: readonly string[]): void {
  for (const url of urls) {
    let scheme: string;
    try {
      scheme = schemeOf(url);
    } catch {
      continue;
    }
    if (AMQP_SCHEMES.includes(scheme)) void import('./brokers/amqp-broker.js').catch(() => undefined);
    if (REDIS_SCHEMES.includes(scheme)) void Promise.all([import('./brokers/redis-broker.js'), import('./backends/redis-backend.js')]).catch(() => undefined);
  }
}

export async function createBroker(url: string, options: TransportOptions & { transportOptions?: BrokerTransportOptions } = {}): Promise<Broker> {
  const scheme = schemeOf(url);
  if (scheme === 'memory') {
    const { hub, name } = memoryHub(url, options.memory);
    return hub.broker(name);
  }
  if (AMQP_SCHEMES.includes(scheme)) {
    checkParses(url, 'amqp://user:pass@HOST1:5672//');
    const { AmqpBroker } = await import('./brokers/amqp-broker.js');
    const confirm = options.transportOptions?.confirm_publish;
    return new AmqpBroker(url, typeof confirm === 'boolean' ? { confirmPublish: confirm } : {});
  }
  if (REDIS_SCHEMES.includes(scheme)) {
    const { RedisBroker } = await import('./brokers/redis-broker.js');
    const vt = options.transportOptions?.visibility_timeout;
    if (vt !== undefined && !(typeof vt === 'number' && vt > 0)) throw new UrlError(`broker_transport_options.visibility_timeout: expected seconds > 0, got ${JSON.stringify(vt)}`);
    return new RedisBroker(url, vt === undefined ? {} : { visibilityTimeoutS: vt });
  }
  throw new UrlError(`unsupported broker URL scheme "${scheme}:" in ${maskUrl(url)} (supported: amqp://, amqps://, redis://, rediss://, memory://)`);
}

export async function createBackend(url: string, options: TransportOptions = {}): Promise<ResultBackend> {
  const scheme = schemeOf(url);
  if (scheme === 'memory') {
    const { hub, name } = memoryHub(url, options.memory);
    return hub.backend(name);
  }
  if (REDIS_SCHEMES.includes(scheme)) {
    const { RedisBackend } = await import('./backends/redis-backend.js');
    return new RedisBackend(url);
  }
  throw new UrlError(`unsupported result backend URL scheme "${scheme}:" in ${maskUrl(url)} (supported: redis://, rediss://, memory://)`);
}
