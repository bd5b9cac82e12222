/**
 * A client's task-sent event (task_send_sent_event; celery/app/amqp.py): published after the task message, from
 * a dispatcher named as Celery names an anonymous node (gen<pid>@<host>), with the fields Celery sends.
 */
import { hostname } from 'node:os';
import type { Broker, Route } from '../broker.js';
import type { Message } from '../protocol.js';
import { LamportClock } from '../control/lamport-clock.js';
import { EventDispatcher } from './event-dispatcher.js';

const dispatchers = new WeakMap<Broker, EventDispatcher>();

export function sentEventFields(message: Message, route: Route): Record<string, unknown> {
  const h = message.properties.headers;
  return {
    uuid: h.id,
    root_id: h.root_id ?? null,
    parent_id: h.parent_id ?? null,
    name: h.task,
    args: h.argsrepr ?? '',
    kwargs: h.kwargsrepr ?? '',
    retries: h.retries ?? 0,
    eta: h.eta ?? null,
    expires: h.expires ?? null,
    queue: route.queue,
    exchange: route.exchange ?? '',
    routing_key: route.routingKey ?? route.queue,
  };
}

/** Publish task-sent for a message just sent; a no-op where the broker cannot carry events. Never rejects. */
export function sendSentEvent(broker: Broker, message: Message, route: Route): Promise<void> {
  if (typeof broker.declareExchange !== 'function') return Promise.resolve();
  let d = dispatchers.get(broker);
  if (!d) {
    d = new EventDispatcher(broker, { hostname: `gen${process.pid}@${hostname()}`, clock: new LamportClock(), groups: ['task'] });
    dispatchers.set(broker, d);
  }
  return d.publish('task-sent', sentEventFields(message, route));
}
