/**
 * Celery's worker_direct: each worker also consumes a queue of its own, `<node>.dq2`, bound to the direct exchange
 * `C.dq2` with its node name as the routing key (celery/utils/nodenames.py) — so a task can be sent to one named
 * worker, by Celery clients (`queue=worker_direct('celery@HOST3')`) and lab's alike.
 */
import type { QueueDeclaration, Route } from './broker.js';

export const WORKER_DIRECT_EXCHANGE = 'C.dq2';

/** The worker-direct queue of a node, as Celery names it. */
export function workerDirectQueue(node: string): string {
  return `${node}.dq2`;
}

/** The route of a task meant for one worker: send options `{ queue, exchange, routingKey }`. */
export function workerDirect(node: string): Required<Route> {
  return { queue: workerDirectQueue(node), exchange: WORKER_DIRECT_EXCHANGE, routingKey: node };
}

/** The queue as Celery's worker declares it (kombu's defaults: durable queue, durable direct exchange). */
export function workerDirectDeclaration(node: string, maxPriority?: number): QueueDeclaration {
  return { name: workerDirectQueue(node), exchange: WORKER_DIRECT_EXCHANGE, routingKey: node, maxPriority };
}

/** The declaration a route needs, when it is a worker-direct one (else null: Celery's own queue-named exchange). */
export function workerDirectOf(route: Route, maxPriority?: number): QueueDeclaration | null {
  if (route.exchange !== WORKER_DIRECT_EXCHANGE || !route.routingKey || route.queue !== workerDirectQueue(route.routingKey)) return null;
  return workerDirectDeclaration(route.routingKey, maxPriority);
}
