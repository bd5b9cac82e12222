/**
 * The embedded lab's transports: in-memory brokers and backends by name, owned by one instance. An embedded lab
 * makes a hub, binds the apps it hands out to it (`app.useMemoryTransports(hub)`), and closes it when it closes;
 * a `memory://<name>` URL of a bound app names one of the hub's. There is no process-wide memory broker: two
 * embedded labs in one process (tests, a sweep) never see each other's messages, and an app bound to no hub
 * cannot use memory:// at all (UrlError).
 */
import { BackendError, BrokerError } from './errors.js';
import { MemoryBroker } from './brokers/memory-broker.js';
import { MemoryBackend } from './backends/memory-backend.js';

/** As the memory transports show their URL ('default' is the bare memory://). */
function shown(name: string): string {
  return `memory://${name === 'default' ? '' : name}`;
}

export class MemoryTransports {
  readonly #brokers = new Map<string, MemoryBroker>();
  readonly #backends = new Map<string, MemoryBackend>();
  #closed = false;

  /** The broker of this name, made on first use (and made again if someone closed it). */
  broker(name = 'default'): MemoryBroker {
    if (this.#closed) throw new BrokerError(`${shown(name)}: the embedded lab that held this broker is closed`, { code: 'E_BROKER_CLOSED' });
    let b = this.#brokers.get(name);
    if (!b || b.status === 'closed') this.#brokers.set(name, (b = new MemoryBroker(name)));
    return b;
  }

  /** The result backend of this name, made on first use (and made again if someone closed it). */
  backend(name = 'default'): MemoryBackend {
    if (this.#closed) throw new BackendError(`${shown(name)}: the embedded lab that held this backend is closed`, { code: 'E_BACKEND_CLOSED' });
    let b = this.#backends.get(name);
    if (!b || b.status === 'closed') this.#backends.set(name, (b = new MemoryBackend(name)));
    return b;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Close every broker (consumers cancelled) and backend (waiters told); the hub makes no new ones after. */
  async close(): Promise<void> {
    this.#closed = true;
    const all = [...this.#brokers.values(), ...this.#backends.values()];
    this.#brokers.clear();
    this.#backends.clear();
    await Promise.all(all.map((c) => c.close()));
  }
}
