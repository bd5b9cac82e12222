/**
 * One consumer of the Redis broker: its own connection blocked in BRPOP over every list of its queues (kombu's
 * order: priority step first, then queue; the queue served last moves to the back, for fairness), at most
 * `prefetch` messages unacked at once. A delivered message is recorded in `unacked` before the handler sees it;
 * ack removes it; reject(requeue) and cancel put it back, marked redelivered. A pause or cancel wakes the blocked
 * BRPOP with CLIENT UNBLOCK, so it answers at once; a message that arrives in that instant goes back to the head
 * of its list untouched.
 */
import type { Redis } from 'ioredis';
import { backoffDelay } from '../../backoff.js';
import type { BackoffPolicy } from '../../backoff.js';
import { BrokerError } from '../errors.js';
import type { Consumer, Delivery, DeliveryHandler } from '../broker.js';
import { bodyOf, isRedelivered, listsOf, parseEnvelope, propertiesOf, queueOfList } from './redis-envelope.js';
import type { Envelope } from './redis-envelope.js';

/** What the broker lends its consumers: connections and the ack-emulation commands. */
export interface ConsumerHost {
  displayUrl: string;
  blockingClient(name: string): Redis;
  backoff: BackoffPolicy;
  record(e: Envelope): Promise<void>;
  ack(tag: string): Promise<void>;
  /** Push back to `queues` unless someone else already did; 'left' = the back of the queue, 'right' = its head. */
  requeue(e: Envelope, queues: string[], where: 'left' | 'right'): Promise<boolean>;
  /** Push a raw entry back to the head of its list (popped while pausing). */
  putBack(list: string, raw: string): Promise<void>;
  reportError(err: Error): void;
  closed(consumer: RedisConsumer): void;
}

/** Seconds a BRPOP blocks before it asks again (CLIENT UNBLOCK ends it sooner). */
const BLOCK_S = 1;
let nextId = 1;

export class RedisConsumer implements Consumer {
  readonly #host: ConsumerHost;
  readonly #handler: DeliveryHandler;
  #queues: string[];
  #prefetch: number;
  readonly #held = new Map<string, { envelope: Envelope; queue: string }>();
  #client: Redis | null = null;
  #clientId: number | null = null;
  #paused = false;
  #cancelled = false;
  #loop: Promise<void> | null = null;
  #wake: (() => void) | null = null;
  readonly #name = `consumer-${nextId++}`;

  constructor(host: ConsumerHost, queues: string[], prefetch: number, handler: DeliveryHandler) {
    this.#host = host;
    this.#queues = [...queues];
    this.#prefetch = Math.max(1, prefetch);
    this.#handler = handler;
  }

  async start(): Promise<void> {
    const client = this.#host.blockingClient(this.#name);
    client.on('error', () => undefined); // the loop reports failures of its own commands, once each
    try {
      await client.connect();
      this.#clientId = Number(await client.client('ID'));
    } catch (err) {
      client.disconnect();
      throw new BrokerError(`${this.#host.displayUrl}: consumer connection: ${(err as Error).message}`, { code: 'E_BROKER_UNAVAILABLE', cause: err });
    }
    // After a reconnect the connection has a new id: UNBLOCK must name that one.
    client.on('ready', () => void client.client('ID').then((id) => (this.#clientId = Number(id)), () => undefined));
    this.#client = client;
    this.#loop = this.#run();
  }

  /** Does this consumer hold a message with this delivery tag (delivered, not yet acked)? */
  holds(tag: string): boolean {
    return this.#held.has(tag);
  }

  async setPrefetch(prefetch: number): Promise<void> {
    this.#prefetch = Math.max(1, prefetch);
    this.#signal();
  }

  async pause(): Promise<void> {
    this.#paused = true;
    await this.#unblock();
  }

  async cancel(): Promise<void> {
    if (this.#cancelled) return this.#loop ?? undefined;
    this.#cancelled = true;
    await this.#unblock();
    await this.#loop;
    // What we still hold goes back to the head of its queue, for the next consumer (kombu's restore at shutdown).
    const held = [...this.#held.values()];
    this.#held.clear();
    await Promise.all(held.map((h) => this.#host.requeue(h.envelope, [h.queue], 'right').catch((err: unknown) => this.#report('give back an unacked message', err))));
    this.#client?.disconnect();
    this.#host.closed(this);
  }

  async #unblock(): Promise<void> {
    this.#signal();
    const client = this.#client;
    if (!client || this.#clientId === null) return;
    // From a second connection: the blocked one cannot send while it waits.
    const other = this.#host.blockingClient(`${this.#name}-unblock`);
    other.on('error', () => undefined);
    try {
      await other.connect();
      await other.client('UNBLOCK', this.#clientId, 'TIMEOUT');
    } catch {
      // The BRPOP ends on its own within BLOCK_S.
    } finally {
      other.disconnect();
    }
  }

  #signal(): void {
    const w = this.#wake;
    this.#wake = null;
    w?.();
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.#wake = null;
        resolve();
      }, ms);
      this.#wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (!this.#cancelled) {
      if (this.#paused || this.#held.size >= this.#prefetch) {
        await this.#sleep(1000);
        continue;
      }
      const keys = brpopKeys(this.#queues);
      let reply: [string, string] | null;
      try {
        reply = (await this.#client!.brpop(...keys, BLOCK_S)) as [string, string] | null;
        failures = 0;
      } catch (err) {
        if (this.#cancelled) break;
        if (failures++ === 0) this.#report('wait for messages', err);
        await this.#sleep(backoffDelay(failures, this.#host.backoff));
        continue;
      }
      if (!reply) continue;
      const [list, raw] = reply;
      if (this.#cancelled || this.#paused) {
        await this.#host.putBack(list, raw).catch((err: unknown) => this.#report('put back a message', err));
        continue;
      }
      await this.#deliver(list, raw);
    }
  }

  async #deliver(list: string, raw: string): Promise<void> {
    const queue = queueOfList(list);
    let envelope: Envelope;
    try {
      envelope = parseEnvelope(raw);
    } catch (err) {
      this.#report(`drop an unreadable entry of ${list} (${raw.slice(0, 80)})`, err);
      return;
    }
    try {
      await this.#host.record(envelope);
    } catch (err) {
      // Not recorded as unacked: give it back rather than hold what a crash would lose.
      this.#report('record an unacked message', err);
      await this.#host.putBack(list, raw).catch(() => undefined);
      return;
    }
    const tag = envelope.properties.delivery_tag;
    this.#held.set(tag, { envelope, queue });
    // The queue served last goes to the back of the cycle (kombu's _queue_cycle.rotate).
    if (this.#queues.length > 1) this.#queues = [...this.#queues.filter((q) => q !== queue), queue];
    const settle = (): boolean => {
      const had = this.#held.delete(tag);
      if (had) this.#signal();
      return had;
    };
    const delivery: Delivery = {
      body: bodyOf(envelope),
      properties: propertiesOf(envelope),
      queue,
      redelivered: isRedelivered(envelope),
      ack: () => {
        if (settle()) void this.#host.ack(tag).catch((err: unknown) => this.#report('ack', err));
      },
      reject: (requeue) => {
        if (!settle()) return;
        const done = requeue ? this.#host.requeue(envelope, [queue], 'left') : this.#host.ack(tag);
        void Promise.resolve(done).catch((err: unknown) => this.#report(requeue ? 'requeue' : 'reject', err));
      },
    };
    try {
      this.#handler(delivery);
    } catch (err) {
      this.#report('deliver a message (the handler threw)', err);
    }
  }

  #report(what: string, err: unknown): void {
    this.#host.reportError(err instanceof BrokerError ? err : new BrokerError(`${this.#host.displayUrl}: ${what}: ${(err as Error)?.message ?? String(err)}`, { cause: err }));
  }
}

/** BRPOP's keys: every queue's step-0 list first, then step 3, 6, 9 (0 is served first, as kombu serves it). */
function brpopKeys(queues: string[]): string[] {
  const perQueue = queues.map((q) => listsOf(q));
  const keys: string[] = [];
  for (let step = 0; step < 4; step++) for (const lists of perQueue) keys.push(lists[step]!);
  return keys;
}
