/**
 * URL → adapter. Adapters are imported lazily so a memory-only run never loads amqplib or ioredis,
 * and nothing above this file names a transport library.
 */
import { maskUrl } from '../errors.js';
import { UrlError } from './errors.js';
import { MemoryBroker } from './brokers/memory-broker.js';
import { MemoryBackend } from './backends/memory-backend.js';
import type { Broker } from './broker.js';
import type { ResultBackend } from './backend.js';

const memoryBrokers = new Map<string, MemoryBroker>();
const memoryBackends = new Map<string, MemoryBackend>();

function schemeOf(url: string): string {
  const m = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url);
  if (!m) throw new UrlError(`not a URL: ${maskUrl(url)} (expected e.g. amqp://user:pass@HOST1:5672// or memory://)`);
  return m[1].toLowerCase();
}

function memoryName(url: string): string {
  return url.replace(/^memory:\/\//i, '').replace(/\/+$/, '') || 'default';
}

/** A URL the WHATWG parser cannot read (bad port, unbalanced [ ], spaces) is a usage error, said before connecting. */
function checkParses(url: string, example: string): void {
  try {
    new URL(url);
  } catch {
    throw new UrlError(`not a valid URL: ${maskUrl(url)} (expected e.g. ${example})`);
  }
}

/** Memory transports are shared per name within a process: the embedded lab's client and worker meet there. */
/** Celery's broker_transport_options that lab reads (others are ignored, as kombu ignores what a transport lacks). */
export interface BrokerTransportOptions {
  confirm_publish?: boolean;
  [other: string]: unknown;
}

export async function createBroker(url: string, transportOptions: BrokerTransportOptions = {}): Promise<Broker> {
  const scheme = schemeOf(url);
  if (scheme === 'memory') {
    const name = memoryName(url);
    let b = memoryBrokers.get(name);
    if (!b || b.status === 'closed') memoryBrokers.set(name, (b = new MemoryBroker(name)));
    return b;
  }
  if (scheme === 'amqp' || scheme === 'amqps' || scheme === 'pyamqp' || scheme === 'pyamqps') {
    checkParses(url, 'amqp://user:pass@HOST1:5672//');
    const { AmqpBroker } = await import('./brokers/amqp-broker.js');
    return new AmqpBroker(url, typeof transportOptions.confirm_publish === 'boolean' ? { confirmPublish: transportOptions.confirm_publish } : {});
  }
  throw new UrlError(`unsupported broker URL scheme "${scheme}:" in ${maskUrl(url)} (supported: amqp://, amqps://, memory://)`);
}

export async function createBackend(url: string): Promise<ResultBackend> {
  const scheme = schemeOf(url);
  if (scheme === 'memory') {
    const name = memoryName(url);
    let b = memoryBackends.get(name);
    if (!b || b.status === 'closed') memoryBackends.set(name, (b = new MemoryBackend(name)));
    return b;
  }
  if (scheme === 'redis' || scheme === 'rediss') {
    const { RedisBackend } = await import('./backends/redis-backend.js');
    return new RedisBackend(url);
  }
  throw new UrlError(`unsupported result backend URL scheme "${scheme}:" in ${maskUrl(url)} (supported: redis://, rediss://, memory://)`);
}
