/**
 * A worker's end of the `celery` mailbox (kombu's pidbox Node, as celery/worker/pidbox.py runs it): consumes its own
 * `<hostname>.celery.pidbox` queue, keeps the messages addressed to it, runs the command and — when the request
 * has reply_to — publishes `{hostname: reply}` to the reply exchange with the request's ticket and our clock.
 * A message it cannot read is acknowledged, warned about, and the node keeps serving; a command that fails or is
 * unknown gets Python's reply {error: repr(exc)}.
 */
import { EventEmitter } from 'node:events';
import type { Broker, Consumer, Delivery } from '../broker.js';
import { runCommand, UnknownCommandError } from './control-commands.js';
import type { ControlTarget } from './control-commands.js';
import { addressedTo, expired, nodeQueue, parseRequest, pidboxExchange, replyExchange, PidboxMessageError } from './pidbox.js';
import type { PidboxRequest } from './pidbox.js';

export interface MailboxNodeEvents {
  warning: [message: string];
  command: [method: string];
}

/** Python's repr of the exception a failed command raised. */
function pyErrorRepr(err: unknown): string {
  if (err instanceof UnknownCommandError) return `KeyError('${err.method.replace(/'/g, "\\'")}')`;
  const e = err as Error;
  return `${e?.name === 'Error' || !e?.name ? 'Exception' : e.name}('${String(e?.message ?? err).replace(/'/g, "\\'")}')`;
}

export class MailboxNode extends EventEmitter<MailboxNodeEvents> {
  private consumer: Consumer | null = null;
  private replyDeclared: Promise<void> | null = null;

  constructor(
    private readonly broker: Broker,
    private readonly target: ControlTarget,
  ) {
    super();
  }

  get queueName(): string {
    return nodeQueue(this.target.hostname).name;
  }

  async start(): Promise<void> {
    await this.broker.declareExchange!(pidboxExchange);
    await this.broker.declare(nodeQueue(this.target.hostname));
    // Its own window: a slow command must not hold up the task consumer, and vice versa.
    this.consumer = await this.broker.consume([this.queueName], { prefetch: 10, tag: `${this.target.hostname}.pidbox` }, (d) => void this.onMessage(d));
  }

  async stop(): Promise<void> {
    const c = this.consumer;
    this.consumer = null;
    await c?.cancel();
    // Gone for good: not re-declared after a reconnect, and on Redis its binding entry leaves with it.
    // If unused: another worker of the same name (Celery warns of those) keeps its mailbox.
    if (c) await this.broker.deleteQueue(this.queueName, { ifUnused: true }).catch(() => undefined);
  }

  private async onMessage(d: Delivery): Promise<void> {
    // no_ack as kombu's pidbox consumer: a command is taken once, whatever comes of it.
    d.ack();
    let req: PidboxRequest;
    try {
      req = parseRequest(d.body, (d.properties.contentType || '').toLowerCase());
    } catch (err) {
      this.emit('warning', `ignored a malformed remote-control message: ${(err as Error).message}`);
      return;
    }
    this.target.clock.adjust(d.properties.headers.clock);
    if (!addressedTo(req, this.target.hostname)) return;
    // A request older than its caller's timeout would be answered to no one (and a late shutdown must not act).
    if (expired(d.properties.headers)) return;
    this.emit('command', req.method);
    let reply: unknown;
    try {
      reply = await runCommand(this.target, req.method, req.arguments);
    } catch (err) {
      if (err instanceof UnknownCommandError) this.emit('warning', `No such control command: ${req.method}`);
      else this.emit('warning', `Control command error: ${req.method}: ${(err as Error).message}`);
      reply = { error: pyErrorRepr(err) };
    }
    // shutdown answers nothing in Celery either (WorkerShutdown leaves before the reply).
    if (!req.reply_to || req.method === 'shutdown') return;
    await this.reply(req, reply).catch((err: Error) => this.emit('warning', `could not reply to ${req.method}: ${err.message}`));
  }

  private async reply(req: PidboxRequest, reply: unknown): Promise<void> {
    const to = req.reply_to!;
    if (to.exchange === replyExchange.name) {
      this.replyDeclared ??= this.broker.declareExchange!(replyExchange).catch((err: unknown) => {
        this.replyDeclared = null;
        throw err;
      });
      await this.replyDeclared;
    } else {
      await this.broker.declareExchange!({ name: to.exchange, type: 'direct', durable: false });
    }
    const body = Buffer.from(JSON.stringify({ [this.target.hostname]: reply }));
    await this.broker.publish(
      { body, properties: { contentType: 'application/json', contentEncoding: 'utf-8', deliveryMode: 1, headers: { ticket: req.ticket ?? null, clock: this.target.clock.forward() } } },
      { queue: '', exchange: to.exchange, routingKey: to.routing_key },
    );
  }
}

export { PidboxMessageError };
