import test from 'node:test';
import assert from 'node:assert/strict';
import { MailboxNode } from '../../../lab/queue/control/mailbox-node.js';
import type { ControlTarget } from '../../../lab/queue/control/control-commands.js';
import { LamportClock } from '../../../lab/queue/control/lamport-clock.js';
import { RevokedSet } from '../../../lab/queue/control/revoked-set.js';
import { WorkerRequests } from '../../../lab/queue/control/worker-requests.js';
import type { Broker, DeliveryHandler } from '../../../lab/queue/broker.js';
import type { Message } from '../../../lab/queue/protocol.js';

/** Just enough broker: records declarations and publishes, hands the test the node's delivery handler. */
function fakeBroker() {
  const published: { message: Message; exchange?: string; routingKey?: string }[] = [];
  const declared: string[] = [];
  let handler: DeliveryHandler | null = null;
  const broker = {
    kind: 'fake',
    declareExchange: async (x: { name: string }) => void declared.push(`exchange ${x.name}`),
    declare: async (q: { name: string }) => void declared.push(`queue ${q.name}`),
    consume: async (_q: string[], _o: unknown, h: DeliveryHandler) => {
      handler = h;
      return { setPrefetch: async () => undefined, pause: async () => undefined, cancel: async () => undefined };
    },
    publish: async (message: Message, route: { exchange?: string; routingKey?: string }) => void published.push({ message, exchange: route.exchange, routingKey: route.routingKey }),
  } as unknown as Broker;
  let acks = 0;
  const deliver = async (body: unknown, headers: Record<string, unknown> = {}) => {
    handler!({ body: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)), properties: { contentType: 'application/json', contentEncoding: 'utf-8', deliveryMode: 1, headers }, queue: 'q', redelivered: false, ack: () => void acks++, reject() {} });
    await new Promise((r) => setImmediate(r));
  };
  return { broker, published, declared, deliver, acks: () => acks };
}

function target(): ControlTarget {
  return { hostname: 'celery@me', clock: new LamportClock(), requests: new WorkerRequests('celery@me'), revoked: new RevokedSet(), shutdown() {} } as unknown as ControlTarget;
}

const replyTo = { exchange: 'reply.celery.pidbox', routing_key: 'oid-1' };

test('a ping with reply_to is answered {hostname: reply} with the ticket, to the caller’s routing key', async () => {
  const f = fakeBroker();
  const t = target();
  const node = new MailboxNode(f.broker, t);
  await node.start();
  assert.deepEqual(f.declared, ['exchange celery.pidbox', 'queue celery@me.celery.pidbox']);
  await f.deliver({ method: 'ping', arguments: {}, destination: null, ticket: 'tk', reply_to: replyTo }, { clock: 40 });
  assert.equal(f.published.length, 1);
  const p = f.published[0];
  assert.deepEqual(JSON.parse(p.message.body.toString()), { 'celery@me': { ok: 'pong' } });
  assert.deepEqual([p.exchange, p.routingKey, p.message.properties.headers.ticket], ['reply.celery.pidbox', 'oid-1', 'tk']);
  assert.ok((p.message.properties.headers.clock as number) > 40, 'our clock moved past the caller’s');
  assert.equal(f.acks(), 1);
});

test('bad input: a malformed message is warned about and the node keeps serving; an unknown command gets KeyError', async () => {
  const f = fakeBroker();
  const node = new MailboxNode(f.broker, target());
  const warnings: string[] = [];
  node.on('warning', (w) => warnings.push(w));
  await node.start();
  await f.deliver('{nope');
  await f.deliver({ arguments: {} });
  assert.equal(warnings.length, 2);
  assert.match(warnings[0], /malformed remote-control message: pidbox message is not JSON/);
  assert.equal(f.published.length, 0);
  await f.deliver({ method: 'no_such', arguments: {}, ticket: 't2', reply_to: replyTo });
  assert.deepEqual(JSON.parse(f.published[0].message.body.toString()), { 'celery@me': { error: "KeyError('no_such')" } });
  await f.deliver({ method: 'ping', arguments: {}, ticket: 't3', reply_to: replyTo });
  assert.equal(f.published.length, 2, 'still serving');
});

test('not addressed to us, expired, shutdown and casts: no reply', async () => {
  const f = fakeBroker();
  const stops: string[] = [];
  const t = { ...target(), shutdown: (why: string) => void stops.push(why) } as ControlTarget;
  const node = new MailboxNode(f.broker, t);
  await node.start();
  await f.deliver({ method: 'ping', destination: ['celery@other'], ticket: 'a', reply_to: replyTo });
  await f.deliver({ method: 'ping', ticket: 'b', reply_to: replyTo }, { expires: Date.now() / 1000 - 10 });
  await f.deliver({ method: 'ping', ticket: 'c' });
  await f.deliver({ method: 'shutdown', arguments: {}, ticket: 'd', reply_to: replyTo });
  assert.equal(f.published.length, 0);
  assert.deepEqual(stops, ['Got shutdown from remote']);
});
