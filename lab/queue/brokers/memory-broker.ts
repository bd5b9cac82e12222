/**
 * The embedded lab's broker: RabbitMQ's semantics that the runtime relies on, in process.
 * - per-consumer prefetch windows; a message is held by one consumer until acked or rejected
 * - cancel (or a dead consumer) returns unacked messages to the head of their queue with redelivered=true
 * - direct exchanges with bindings, the default exchange routing by queue name
 * - per-message expiration (dropped when it reaches the head, as RabbitMQ does) and x-max-priority queues
 */
import { BrokerError } from '../errors.js';
import { ConnectionBase } from '../connection.js';
import { FULL_FEATURES } from '../broker.js';
import type { Broker, ConsumeOptions, Consumer, Delivery, DeliveryHandler, QueueDeclaration, QueueStats, Route } from '../broker.js';
import type { Message } from '../protocol.js';

interface Stored {
  message: Message;
  redelivered: boolean;
  priority: number;
  expiresAt: number | null;
  seq: number;
}

interface MemQueue {
  name: string;
  maxPriority: number;
  ready: Stored[];
  consumers: MemConsumer[];
  rr: number;
}

class MemConsumer implements Consumer {
  readonly unacked = new Set<Stored & { queue: MemQueue }>();
  cancelled = false;

  constructor(
    private readonly broker: MemoryBroker,
    readonly queues: MemQueue[],
    public prefetch: number,
    readonly handler: DeliveryHandler,
  ) {}

  paused = false;

  hasRoom(): boolean {
    return !this.cancelled && !this.paused && (this.prefetch <= 0 || this.unacked.size < this.prefetch);
  }

  async pause(): Promise<void> {
    this.paused = true;
  }

  async setPrefetch(prefetch: number): Promise<void> {
    this.prefetch = prefetch;
    this.broker.schedule();
  }

  async cancel(): Promise<void> {
    if (this.cancelled) return;
    this.cancelled = true;
    for (const q of this.queues) q.consumers = q.consumers.filter((c) => c !== this);
    // Unacked messages go back to the head of their queue, marked redelivered, in their original order.
    const back = [...this.unacked].sort((a, b) => b.seq - a.seq);
    this.unacked.clear();
    for (const s of back) s.queue.ready.unshift({ ...s, redelivered: true });
    this.broker.schedule();
  }
}

export class MemoryBroker extends ConnectionBase implements Broker {
  readonly kind = 'memory';
  readonly features = FULL_FEATURES;
  readonly displayUrl: string;
  private readonly queues = new Map<string, MemQueue>();
  /** exchange name → routing key → queue names */
  private readonly bindings = new Map<string, Map<string, Set<string>>>();
  private scheduled = false;
  private seq = 0;
  private expiryTimer: NodeJS.Timeout | null = null;
  private expiryAt = Infinity;

  constructor(readonly name = 'default') {
    super();
    this.displayUrl = `memory://${name === 'default' ? '' : name}`;
  }

  async ready(): Promise<void> {
    if (this.status === 'closed') throw new BrokerError(`${this.displayUrl}: broker is closed`);
    this.setStatus('ready');
  }

  async close(): Promise<void> {
    for (const q of this.queues.values()) for (const c of [...q.consumers]) await c.cancel();
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.setStatus('closed');
  }

  async declare(decl: QueueDeclaration): Promise<void> {
    this.ensureOpen();
    const existing = this.queues.get(decl.name);
    const maxPriority = decl.maxPriority ?? 0;
    if (existing && existing.maxPriority !== maxPriority) {
      // RabbitMQ answers PRECONDITION_FAILED (406) to a re-declare with other arguments; so do we.
      throw new BrokerError(`queue ${decl.name} already declared with x-max-priority ${existing.maxPriority}, not ${maxPriority}`, { code: 'E_BROKER_PRECONDITION' });
    }
    if (!existing) this.queues.set(decl.name, { name: decl.name, maxPriority, ready: [], consumers: [], rr: 0 });
    const exchange = decl.exchange ?? decl.name;
    if (exchange) {
      const key = decl.routingKey ?? decl.name;
      let byKey = this.bindings.get(exchange);
      if (!byKey) this.bindings.set(exchange, (byKey = new Map()));
      let set = byKey.get(key);
      if (!set) byKey.set(key, (set = new Set()));
      set.add(decl.name);
    }
  }

  async publish(message: Message, route: Route): Promise<void> {
    this.ensureOpen();
    const exchange = route.exchange ?? '';
    const key = route.routingKey ?? route.queue;
    const targets = exchange === '' ? [key] : [...(this.bindings.get(exchange)?.get(key) ?? [])];
    const expiration = message.properties.expiration;
    const ttl = expiration !== undefined ? Number(expiration) : NaN;
    for (const name of targets) {
      const q = this.queues.get(name);
      if (!q) continue; // unroutable: dropped, as RabbitMQ does without the mandatory flag
      const stored: Stored = {
        message,
        redelivered: false,
        priority: Math.min(message.properties.priority ?? 0, q.maxPriority),
        expiresAt: Number.isFinite(ttl) ? Date.now() + ttl : null,
        seq: this.seq++,
      };
      if (q.maxPriority > 0 && stored.priority > 0) {
        // Keep the ready list ordered by priority (higher first), FIFO within a priority.
        let i = q.ready.length;
        while (i > 0 && q.ready[i - 1].priority < stored.priority) i--;
        q.ready.splice(i, 0, stored);
      } else {
        q.ready.push(stored);
      }
    }
    this.schedule();
  }

  async consume(queueNames: string[], options: ConsumeOptions, handler: DeliveryHandler): Promise<Consumer> {
    this.ensureOpen();
    const queues = queueNames.map((n) => {
      const q = this.queues.get(n);
      if (!q) throw new BrokerError(`cannot consume from queue ${n}: not declared`, { code: 'E_BROKER_NOT_FOUND' });
      return q;
    });
    const consumer = new MemConsumer(this, queues, options.prefetch, handler);
    for (const q of queues) q.consumers.push(consumer);
    this.schedule();
    return consumer;
  }

  async purge(queue: string): Promise<number> {
    const q = this.queues.get(queue);
    if (!q) return 0;
    const n = q.ready.length;
    q.ready = [];
    return n;
  }

  async deleteQueue(queue: string, options: { ifUnused?: boolean } = {}): Promise<void> {
    const q = this.queues.get(queue);
    if (options.ifUnused && q && q.consumers.length > 0) throw new BrokerError(`delete queue ${queue}: in use by ${q.consumers.length} consumer(s)`, { code: 'E_BROKER_PRECONDITION' });
    if (q) for (const c of [...q.consumers]) await c.cancel();
    this.queues.delete(queue);
    for (const byKey of this.bindings.values()) for (const set of byKey.values()) set.delete(queue);
  }

  async stats(queue: string): Promise<QueueStats> {
    const q = this.queues.get(queue);
    return { name: queue, messages: q?.ready.length ?? 0, consumers: q?.consumers.length ?? 0 };
  }

  /** Dispatch on a microtask: publish returns first, and a burst of publishes is dispatched in one pass. */
  schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.dispatch();
    });
  }

  private dispatch(): void {
    const now = Date.now();
    for (const q of this.queues.values()) {
      while (q.ready.length > 0) {
        const head = q.ready[0];
        if (head.expiresAt !== null && head.expiresAt <= now) {
          q.ready.shift();
          continue;
        }
        const consumer = this.pickConsumer(q);
        if (!consumer) break;
        q.ready.shift();
        this.deliver(consumer, q, head);
      }
    }
    this.armHeadExpiry();
  }

  /**
   * As RabbitMQ does, only a message at the head of its queue is dropped on expiry; arm the timer for the earliest
   * head. (Arming for messages behind the head would fire, drop nothing, and spin.)
   */
  private armHeadExpiry(): void {
    let next = Infinity;
    for (const q of this.queues.values()) {
      const head = q.ready[0];
      if (head && head.expiresAt !== null && head.expiresAt < next) next = head.expiresAt;
    }
    if (Number.isFinite(next)) this.armExpiry(next);
  }

  private pickConsumer(q: MemQueue): MemConsumer | null {
    const n = q.consumers.length;
    for (let i = 0; i < n; i++) {
      const c = q.consumers[(q.rr + i) % n];
      if (c.hasRoom()) {
        q.rr = (q.rr + i + 1) % n;
        return c;
      }
    }
    return null;
  }

  private deliver(consumer: MemConsumer, queue: MemQueue, stored: Stored): void {
    const entry = { ...stored, queue };
    consumer.unacked.add(entry);
    let settled = false;
    const settle = (): boolean => {
      if (settled || !consumer.unacked.has(entry)) return false; // acking twice, or after cancel, is a no-op
      settled = true;
      consumer.unacked.delete(entry);
      return true;
    };
    const delivery: Delivery = {
      body: stored.message.body,
      properties: stored.message.properties,
      queue: queue.name,
      redelivered: stored.redelivered,
      ack: () => {
        if (settle()) this.schedule();
      },
      reject: (requeue: boolean) => {
        if (!settle()) return;
        if (requeue) queue.ready.unshift({ ...stored, redelivered: true });
        this.schedule();
      },
    };
    try {
      consumer.handler(delivery);
    } catch (err) {
      this.reportError(err as Error);
    }
  }

  private armExpiry(at: number): void {
    // One timer for the earliest expiry, so an expired message at the head is dropped even with no consumer activity.
    // A message that expires before the armed timer re-arms it (otherwise it would linger until the later expiry).
    if (this.expiryTimer) {
      if (at >= this.expiryAt) return;
      clearTimeout(this.expiryTimer);
    }
    this.expiryAt = at;
    this.expiryTimer = setTimeout(() => {
      this.expiryTimer = null;
      this.expiryAt = Infinity;
      this.dispatch(); // drops expired heads and re-arms for the next head
    }, Math.max(0, at - Date.now()));
    this.expiryTimer.unref();
  }

  private ensureOpen(): void {
    if (this.status === 'closed') throw new BrokerError(`${this.displayUrl}: broker is closed`);
    if (this.status === 'idle') this.setStatus('ready');
  }
}
