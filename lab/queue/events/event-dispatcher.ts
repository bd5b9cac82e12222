/**
 * Sends Celery events (celery.events.EventDispatcher): each event gets hostname, utcoffset, pid, the Lamport clock
 * and a timestamp, and goes to the `celeryev` topic exchange, transient. Groups say which kinds are sent
 * (a worker with -E sends 'task' and 'worker'; enable_events / disable_events toggle 'task').
 * Sending never throws: a failed publish is emitted as 'error' (background loops never throw), and events are
 * dropped while the broker is away rather than kept (Celery buffers them; a monitor can live without a few).
 */
import { EventEmitter } from 'node:events';
import type { Broker } from '../broker.js';
import type { LamportClock } from '../control/lamport-clock.js';
import { EVENT_EXCHANGE, eventExchange, groupOf, routingKeyOf, utcoffset } from './event-protocol.js';

export interface EventDispatcherOptions {
  hostname: string;
  clock: LamportClock;
  /** Groups sent; empty = none (Celery: None means all — lab says which). */
  groups: Iterable<string>;
}

export class EventDispatcher extends EventEmitter {
  readonly hostname: string;
  readonly groups: Set<string>;
  private readonly clock: LamportClock;
  private declared: Promise<void> | null = null;
  readonly pid = process.pid;

  constructor(
    private readonly broker: Broker,
    options: EventDispatcherOptions,
  ) {
    super();
    this.hostname = options.hostname;
    this.clock = options.clock;
    this.groups = new Set(options.groups);
  }

  /** Can this broker carry events at all (fanout/topic exchanges: AMQP, and Redis by PUBLISH; not memory). */
  get supported(): boolean {
    return typeof this.broker.declareExchange === 'function';
  }

  enabled(type: string): boolean {
    return this.supported && this.groups.has(groupOf(type));
  }

  /** Send an event of an enabled group; resolves when published (or dropped with an 'error'). */
  send(type: string, fields: Record<string, unknown> = {}): Promise<void> {
    if (!this.enabled(type)) return Promise.resolve();
    return this.publish(type, fields);
  }

  /** Publish regardless of groups (a client's task-sent, which has no -E). */
  async publish(type: string, fields: Record<string, unknown>): Promise<void> {
    const event = { ...fields, hostname: this.hostname, utcoffset: utcoffset(), pid: this.pid, clock: this.clock.forward(), timestamp: Date.now() / 1000, type };
    try {
      this.declared ??= this.broker.declareExchange!(eventExchange).catch((err: unknown) => {
        this.declared = null;
        throw err;
      });
      await this.declared;
      await this.broker.publish(
        { body: Buffer.from(JSON.stringify(event)), properties: { contentType: 'application/json', contentEncoding: 'utf-8', deliveryMode: 1, headers: { hostname: this.hostname } } },
        { queue: '', exchange: EVENT_EXCHANGE, routingKey: routingKeyOf(type) },
      );
    } catch (err) {
      if (this.listenerCount('error')) this.emit('error', new Error(`could not send the ${type} event: ${(err as Error).message}`));
    }
  }
}
