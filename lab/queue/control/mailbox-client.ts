/**
 * The calling end of the `celery` mailbox (kombu's Mailbox._broadcast / _collect, what `celery inspect` and
 * `celery control` do): a reply queue of our own bound to `reply.celery.pidbox` with our oid, the request published
 * to the `celery.pidbox` fanout with a ticket, and the replies carrying that ticket collected until the timeout
 * (or until every named destination answered). Lab and Python workers answer alike.
 */
import { randomUUID } from 'node:crypto';
import type { Broker, Consumer } from '../broker.js';
import { QueueError } from '../errors.js';
import { LamportClock } from './lamport-clock.js';
import { PIDBOX_EXCHANGE, pidboxExchange, REPLY_EXCHANGE, replyQueue } from './pidbox.js';

export interface BroadcastOptions {
  /** Node names; absent = every node. */
  destination?: string[] | null;
  /** How long to wait for replies (Celery's default: 1 s). */
  timeoutMs?: number;
  /** Wait for replies (inspect, control); false = fire and forget (cast). */
  reply?: boolean;
  /** Stop after this many replies (default: the number of destinations, else none). */
  limit?: number;
}

/** One node's reply: {hostname: value}. */
export type NodeReply = Record<string, unknown>;

export class MailboxUnavailableError extends QueueError {
  constructor(kind: string) {
    super('E_USAGE', `remote control and events need RabbitMQ or Redis as the broker; this one is ${kind}`, { exitCode: 2 });
  }
}

export class MailboxClient {
  readonly oid = randomUUID();
  private readonly clock = new LamportClock();
  private ready: Promise<void> | null = null;

  constructor(private readonly broker: Broker) {}

  private setUp(): Promise<void> {
    if (typeof this.broker.declareExchange !== 'function') return Promise.reject(new MailboxUnavailableError(this.broker.kind));
    this.ready ??= this.broker.declareExchange!(pidboxExchange).catch((err: unknown) => {
      this.ready = null;
      throw err;
    });
    // The reply queue every time: it is auto-delete, so it went away when the last broadcast stopped reading it.
    return this.ready.then(() => this.broker.declare(replyQueue(this.oid)));
  }

  /** Send `method` with `args`; resolves with the replies in arrival order (Celery's list of {node: reply}). */
  async broadcast(method: string, args: Record<string, unknown> = {}, options: BroadcastOptions = {}): Promise<NodeReply[]> {
    await this.setUp();
    const timeoutMs = options.timeoutMs ?? 1000;
    const destination = options.destination?.length ? options.destination : null;
    const wantReply = options.reply ?? true;
    const ticket = wantReply ? randomUUID() : undefined;
    const limit = options.limit ?? (destination ? destination.length : Infinity);
    const replies: NodeReply[] = [];
    let consumer: Consumer | null = null;
    let done: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => (done = resolve));
    if (wantReply) {
      consumer = await this.broker.consume([replyQueue(this.oid).name], { prefetch: 100, tag: `mailbox-client ${this.oid}` }, (d) => {
        d.ack();
        this.clock.adjust(d.properties.headers.clock);
        if (d.properties.headers.ticket !== ticket) return;
        try {
          const body = JSON.parse(d.body.toString('utf8')) as unknown;
          if (body && typeof body === 'object' && !Array.isArray(body)) replies.push(body as NodeReply);
        } catch {
          return; // a reply we cannot read is no reply
        }
        if (replies.length >= limit) done();
      });
    }
    const body: Record<string, unknown> = { method, arguments: args, destination, pattern: null, matcher: null };
    if (wantReply) Object.assign(body, { ticket, reply_to: { exchange: REPLY_EXCHANGE, routing_key: this.oid } });
    try {
      await this.broker.publish(
        {
          body: Buffer.from(JSON.stringify(body)),
          properties: { contentType: 'application/json', contentEncoding: 'utf-8', deliveryMode: 1, headers: { clock: this.clock.forward(), expires: wantReply ? Date.now() / 1000 + timeoutMs / 1000 : 0 } },
        },
        { queue: '', exchange: PIDBOX_EXCHANGE, routingKey: '' },
      );
      if (!wantReply) return [];
      const timer = setTimeout(done, timeoutMs);
      await finished;
      clearTimeout(timer);
      return replies;
    } finally {
      await consumer?.cancel().catch(() => undefined);
    }
  }

  /** Forget the reply queue (it is auto-delete and expires anyway; this is for tidiness). */
  async close(): Promise<void> {
    if (!this.ready) return;
    await this.broker.deleteQueue(replyQueue(this.oid).name).catch(() => undefined);
  }
}
