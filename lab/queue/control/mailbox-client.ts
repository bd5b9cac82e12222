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
  /**
   * Nodes known to be there: once each has replied, stop `settleMs` later instead of at the timeout (others that
   * answer meanwhile are still collected) — a survey of a known cluster need not wait out the whole second.
   */
  expect?: { nodes: readonly string[]; settleMs: number };
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
  /**
   * One consumer on the reply queue for the client's life, shared by every broadcast (replies go to the one waiting
   * for their ticket). A consumer per broadcast raced: the queue is auto-delete, so one broadcast's cancel deleted it
   * under another's consume (NOT_FOUND) when two overlapped, as `lab status` and the dashboard's survey do.
   */
  private ready: Promise<Consumer> | null = null;
  private readonly waiting = new Map<string, (reply: NodeReply) => void>();

  constructor(private readonly broker: Broker) {}

  private setUp(): Promise<Consumer> {
    if (typeof this.broker.declareExchange !== 'function') return Promise.reject(new MailboxUnavailableError(this.broker.kind));
    this.ready ??= (async () => {
      await this.broker.declareExchange!(pidboxExchange);
      await this.broker.declare(replyQueue(this.oid));
      return this.broker.consume([replyQueue(this.oid).name], { prefetch: 100, tag: `mailbox-client ${this.oid}` }, (d) => {
        d.ack();
        this.clock.adjust(d.properties.headers.clock);
        const deliver = this.waiting.get(String(d.properties.headers.ticket));
        if (!deliver) return; // a late reply to a broadcast that timed out
        try {
          const body = JSON.parse(d.body.toString('utf8')) as unknown;
          if (body && typeof body === 'object' && !Array.isArray(body)) deliver(body as NodeReply);
        } catch {
          return; // a reply we cannot read is no reply
        }
      });
    })().catch((err: unknown) => {
      this.ready = null;
      throw err;
    });
    return this.ready;
  }

  /** Send `method` with `args`; resolves with the replies in arrival order (Celery's list of {node: reply}). */
  async broadcast(method: string, args: Record<string, unknown> = {}, options: BroadcastOptions = {}): Promise<NodeReply[]> {
    const timeoutMs = options.timeoutMs ?? 1000;
    const destination = options.destination?.length ? options.destination : null;
    const wantReply = options.reply ?? true;
    if (wantReply) await this.setUp();
    else if (typeof this.broker.declareExchange !== 'function') throw new MailboxUnavailableError(this.broker.kind);
    else await this.broker.declareExchange(pidboxExchange);
    const ticket = wantReply ? randomUUID() : undefined;
    const limit = options.limit ?? (destination ? destination.length : Infinity);
    const replies: NodeReply[] = [];
    let done: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => (done = resolve));
    const expected = new Set(options.expect?.nodes ?? []);
    let settle: NodeJS.Timeout | undefined;
    if (ticket) {
      this.waiting.set(ticket, (reply) => {
        replies.push(reply);
        for (const node of Object.keys(reply)) expected.delete(node);
        if (replies.length >= limit) done();
        else if (options.expect && expected.size === 0) settle ??= setTimeout(done, options.expect.settleMs);
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
      clearTimeout(settle);
      return [...replies];
    } finally {
      if (ticket) this.waiting.delete(ticket);
    }
  }

  /** Forget the reply queue (it is auto-delete and expires anyway; this is for tidiness). */
  async close(): Promise<void> {
    if (!this.ready) return;
    const consumer = await this.ready.catch(() => null);
    this.ready = null;
    await consumer?.cancel().catch(() => undefined);
    await this.broker.deleteQueue(replyQueue(this.oid).name).catch(() => undefined);
  }
}
