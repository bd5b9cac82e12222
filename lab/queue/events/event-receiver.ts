/**
 * Receives Celery events (celery.events.EventReceiver): a queue of its own (`celeryev.<uuid>`, auto-delete, short
 * TTL) bound to the `celeryev` topic exchange, each event parsed and stamped with local_received. What `lab
 * dashboard` feeds on; Python and lab workers' events alike. Never throws from the delivery path: an event it
 * cannot read is skipped and counted.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Broker, Consumer } from '../broker.js';
import { MailboxUnavailableError } from '../control/mailbox-client.js';
import { eventExchange, receiverQueue } from './event-protocol.js';
import type { CeleryEvent } from './event-protocol.js';

export interface EventReceiverEvents {
  event: [event: CeleryEvent];
}

export class EventReceiver extends EventEmitter<EventReceiverEvents> {
  readonly id = randomUUID();
  private consumer: Consumer | null = null;
  /** Messages that were not a readable event. */
  skipped = 0;

  constructor(private readonly broker: Broker) {
    super();
  }

  get queueName(): string {
    return receiverQueue(this.id).name;
  }

  async start(): Promise<void> {
    if (typeof this.broker.declareExchange !== 'function') throw new MailboxUnavailableError(this.broker.kind);
    await this.broker.declareExchange(eventExchange);
    await this.broker.declare(receiverQueue(this.id));
    this.consumer = await this.broker.consume([this.queueName], { prefetch: 1000, tag: `events ${this.id}` }, (d) => {
      d.ack();
      let e: unknown;
      try {
        e = JSON.parse(d.body.toString('utf8'));
      } catch {
        this.skipped++;
        return;
      }
      if (!e || typeof e !== 'object' || typeof (e as { type?: unknown }).type !== 'string') {
        this.skipped++;
        return;
      }
      const event = e as CeleryEvent;
      event.local_received = Date.now() / 1000;
      this.emit('event', event);
    });
  }

  async stop(): Promise<void> {
    const c = this.consumer;
    this.consumer = null;
    await c?.cancel().catch(() => undefined);
    await this.broker.deleteQueue(this.queueName).catch(() => undefined);
  }
}
