/**
 * The Broker conformance suite: what every Broker adapter (memory, AMQP, Redis) must do, as RabbitMQ does it — and,
 * where a broker declares in `features` that it does less (kombu's Redis transport: no TTL, no consumer counts,
 * priorities 0 first, no declaration checks), what it does instead.
 * Call `brokerConformance(name, makeBroker, cleanup)` from a *.test.ts file; each case gets a fresh broker and
 * unique queue names, and cleans up (queues removed, broker closed) even when it fails.
 */
import test from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { BrokerError } from '../../../lab/queue/errors.js';
import { hasCode } from '../../../lab/errors.js';
import { buildTaskMessage } from '../../../lab/queue/protocol.js';
import type { Broker, Consumer, Delivery, QueueDeclaration } from '../../../lab/queue/broker.js';
import type { Message } from '../../../lab/queue/protocol.js';
import { eventually, sleep } from '../transport-helpers.js';

export interface BrokerConformanceOptions {
  /** Prerequisite gate (e.g. `rabbitmq` from test/support/prereq.ts); false = the test was skipped. */
  gate?: (t: TestContext) => Promise<boolean>;
  /** Prefix for queue names, so leftovers are recognisable. */
  prefix?: string;
}

/** What a test declared, for the adapter's cleanup hook. */
export interface Declared {
  queues: string[];
  /** Exchanges the declarations named (a queue's default exchange is its own name). */
  exchanges: string[];
}

/** Removes what a test declared — called (even when the test failed) before the broker is closed. */
export type BrokerCleanup = (broker: Broker, declared: Declared) => Promise<void>;

export function uniqueName(prefix: string, what: string): string {
  return `${prefix}.${what}.${randomBytes(5).toString('hex')}`;
}

/** Deliveries as an async queue: `next()` waits for the next one, `none()` asserts nothing more arrives. */
export class Inbox {
  readonly all: Delivery[] = [];
  #queue: Delivery[] = [];
  #waiters: ((d: Delivery) => void)[] = [];

  readonly handler = (d: Delivery): void => {
    this.all.push(d);
    const w = this.#waiters.shift();
    if (w) w(d);
    else this.#queue.push(d);
  };

  next(timeoutMs = 3000): Promise<Delivery> {
    const d = this.#queue.shift();
    if (d) return Promise.resolve(d);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new Error(`no delivery within ${timeoutMs} ms (received ${this.all.length} so far)`));
      }, timeoutMs);
      const waiter = (x: Delivery): void => {
        clearTimeout(timer);
        resolve(x);
      };
      this.#waiters.push(waiter);
    });
  }

  async take(n: number, timeoutMs = 5000): Promise<Delivery[]> {
    const out: Delivery[] = [];
    const deadline = Date.now() + timeoutMs;
    while (out.length < n) out.push(await this.next(Math.max(1, deadline - Date.now())));
    return out;
  }

  async none(ms = 300): Promise<void> {
    await sleep(ms);
    assert.equal(this.#queue.length, 0, `unexpected deliveries: ${this.#queue.map((d) => d.body.toString()).join(', ')}`);
  }

  get buffered(): number {
    return this.#queue.length;
  }
}

export function textMessage(text: string, extra: Partial<Message['properties']> = {}): Message {
  return {
    body: Buffer.from(text),
    properties: { contentType: 'text/plain', contentEncoding: 'utf-8', deliveryMode: 2, headers: {}, ...extra },
  };
}

interface Ctx {
  broker: Broker;
  queue(what: string, decl?: Omit<QueueDeclaration, 'name'>): Promise<string>;
  consume(queues: string[], prefetch: number, inbox?: Inbox): Promise<{ consumer: Consumer; inbox: Inbox }>;
}

async function setup(t: TestContext, makeBroker: () => Promise<Broker>, cleanup: BrokerCleanup, prefix: string): Promise<Ctx> {
  const broker = await makeBroker();
  const declared: Declared = { queues: [], exchanges: [] };
  const consumers: Consumer[] = [];
  t.after(async () => {
    for (const c of consumers) await c.cancel().catch(() => undefined);
    try {
      await cleanup(broker, declared);
    } finally {
      await broker.close();
    }
  });
  return {
    broker,
    async queue(what, decl = {}) {
      const name = uniqueName(prefix, what);
      declared.queues.push(name);
      const exchange = decl.exchange ?? name;
      if (exchange && !declared.exchanges.includes(exchange)) declared.exchanges.push(exchange);
      await broker.declare({ name, ...decl });
      return name;
    },
    async consume(qs, prefetch, inbox = new Inbox()) {
      const consumer = await broker.consume(qs, { prefetch }, inbox.handler);
      consumers.push(consumer);
      return { consumer, inbox };
    },
  };
}

export function brokerConformance(name: string, makeBroker: () => Promise<Broker>, cleanup: BrokerCleanup, options: BrokerConformanceOptions = {}): void {
  const prefix = options.prefix ?? 'lab-test';
  const gate = options.gate ?? (async () => true);
  const it = (title: string, fn: (ctx: Ctx, t: TestContext) => Promise<void>): void => {
    test(`${name} broker: ${title}`, async (t) => {
      if (!(await gate(t))) return;
      const ctx = await setup(t, makeBroker, cleanup, prefix);
      await fn(ctx, t);
    });
  };

  it('declare + publish + consume round trip keeps body, properties and headers', async ({ broker, queue, consume }) => {
    const q = await queue('roundtrip');
    const message = buildTaskMessage('test.echo', {
      args: [1, 'two', { three: [3] }],
      kwargs: { unicode: 'naïve ☃ 😀' },
      expires: new Date(Date.now() + 600_000),
      groupIndex: 7,
      timeLimit: [30, 20],
      extraHeaders: { nested: { a: [1, 'x', null, true], b: { c: 'd' } }, flag: false, ratio: 0.25, big: 100_000, nothing: null },
    });
    message.properties.priority = 3;
    const { inbox } = await consume([q], 10);
    await broker.publish(message, { queue: q });
    const d = await inbox.next();
    assert.equal(d.queue, q);
    assert.equal(d.redelivered, false);
    assert.deepEqual(d.body, message.body);
    assert.deepEqual(d.properties, message.properties);
    d.ack();
    // The same message through the queue's own direct exchange (Celery's named-queue route).
    await broker.publish(textMessage('via exchange'), { queue: q, exchange: q, routingKey: q });
    const d2 = await inbox.next();
    assert.equal(d2.body.toString(), 'via exchange');
    assert.deepEqual(d2.properties.headers, {});
    d2.ack();
  });

  it('a queue bound with another exchange and routing key receives what is routed there', async ({ broker, queue, consume }) => {
    const exchange = uniqueName(prefix, 'exchange');
    const q = await queue('routed', { exchange, routingKey: 'rk.a' });
    const { inbox } = await consume([q], 10);
    await broker.publish(textMessage('to rk.a'), { queue: q, exchange, routingKey: 'rk.a' });
    await broker.publish(textMessage('to rk.b (unroutable, dropped)'), { queue: q, exchange, routingKey: 'rk.b' });
    const d = await inbox.next();
    assert.equal(d.body.toString(), 'to rk.a');
    d.ack();
    await inbox.none(200);
  });

  it('FIFO: concurrent publishes arrive in publish order', async ({ broker, queue, consume }) => {
    const q = await queue('fifo');
    await Promise.all(Array.from({ length: 100 }, (_, i) => broker.publish(textMessage(String(i)), { queue: q })));
    const { inbox } = await consume([q], 200);
    const got = await inbox.take(100);
    assert.deepEqual(
      got.map((d) => Number(d.body.toString())),
      Array.from({ length: 100 }, (_, i) => i),
    );
    for (const d of got) d.ack();
  });

  it('prefetch window: no more than `prefetch` unacked; ack opens room; setPrefetch widens it', async ({ broker, queue, consume }) => {
    const q = await queue('prefetch');
    await Promise.all(Array.from({ length: 6 }, (_, i) => broker.publish(textMessage(`m${i}`), { queue: q })));
    const { consumer, inbox } = await consume([q], 2);
    const first = await inbox.take(2);
    assert.deepEqual(
      first.map((d) => d.body.toString()),
      ['m0', 'm1'],
    );
    await inbox.none(300);
    first[0].ack();
    const third = await inbox.next();
    assert.equal(third.body.toString(), 'm2');
    await inbox.none(200);
    await consumer.setPrefetch(4);
    const more = await inbox.take(2);
    assert.deepEqual(
      more.map((d) => d.body.toString()),
      ['m3', 'm4'],
    );
    await inbox.none(200);
    for (const d of [first[1], third, ...more]) d.ack();
    const last = await inbox.next();
    assert.equal(last.body.toString(), 'm5');
    last.ack();
  });

  it('prefetch window is shared by all queues of one consumer', async ({ broker, queue, consume }) => {
    const q1 = await queue('multi1');
    const q2 = await queue('multi2');
    for (const q of [q1, q2]) await Promise.all([0, 1, 2].map((i) => broker.publish(textMessage(`${q}:${i}`), { queue: q })));
    const { inbox } = await consume([q1, q2], 2);
    const got = await inbox.take(2);
    await inbox.none(300);
    for (const d of got) d.ack();
    const rest: Delivery[] = [];
    while (rest.length < 4) {
      const d = await inbox.next();
      rest.push(d);
      d.ack();
    }
    assert.equal(new Set([...got, ...rest].map((d) => d.body.toString())).size, 6);
  });

  it('reject(requeue=true) redelivers with redelivered=true; ack settles', async ({ broker, queue, consume }) => {
    const q = await queue('requeue');
    await broker.publish(textMessage('again'), { queue: q });
    const { inbox } = await consume([q], 1);
    const d = await inbox.next();
    assert.equal(d.redelivered, false);
    d.reject(true);
    const again = await inbox.next();
    assert.equal(again.body.toString(), 'again');
    assert.equal(again.redelivered, true);
    again.ack();
    again.ack(); // a second ack is a no-op, not a channel error
    await inbox.none(200);
    await eventually(() => broker.stats(q), (s) => s.messages === 0);
  });

  it('reject(requeue=false) drops the message', async ({ broker, queue, consume }) => {
    const q = await queue('drop');
    await broker.publish(textMessage('drop me'), { queue: q });
    await broker.publish(textMessage('keep me'), { queue: q });
    const { inbox } = await consume([q], 1);
    const d = await inbox.next();
    assert.equal(d.body.toString(), 'drop me');
    d.reject(false);
    const k = await inbox.next();
    assert.equal(k.body.toString(), 'keep me');
    assert.equal(k.redelivered, false);
    k.ack();
    await inbox.none(200);
    await eventually(() => broker.stats(q), (s) => s.messages === 0);
  });

  it('cancel with unacked messages: they go to another consumer, redelivered=true; late ack is a no-op', async ({ broker, queue, consume }) => {
    const q = await queue('cancel');
    await broker.publish(textMessage('held'), { queue: q });
    const a = await consume([q], 1);
    const held = await a.inbox.next();
    assert.equal(held.redelivered, false);
    const b = await consume([q], 1);
    await b.inbox.none(150);
    await a.consumer.cancel();
    const d = await b.inbox.next();
    assert.equal(d.body.toString(), 'held');
    assert.equal(d.redelivered, true);
    held.ack(); // the first consumer is gone: no-op (b still holds it)
    held.reject(true);
    await b.inbox.none(150);
    d.ack();
    await a.inbox.none(100);
    await eventually(() => broker.stats(q), (s) => s.messages === 0 && s.consumers === (broker.features.consumerCount ? 1 : null));
  });

  it('purge drops the ready messages and says how many', async ({ broker, queue }) => {
    const q = await queue('purge');
    await Promise.all([1, 2, 3].map((i) => broker.publish(textMessage(String(i)), { queue: q })));
    await eventually(() => broker.stats(q), (s) => s.messages === 3);
    assert.equal(await broker.purge(q), 3);
    assert.equal((await broker.stats(q)).messages, 0);
    assert.equal(await broker.purge(q), 0);
  });

  it('per-message expiration drops a message that waited too long (or, without TTL, keeps it for the worker to revoke)', async ({ broker, queue, consume }) => {
    const q = await queue('expire');
    await broker.publish(textMessage('short-lived', { expiration: '50' }), { queue: q });
    await broker.publish(textMessage('long-lived', { expiration: '60000' }), { queue: q });
    await broker.publish(textMessage('immortal'), { queue: q });
    await sleep(300);
    const { inbox } = await consume([q], 10);
    const expected = broker.features.messageTtl ? ['long-lived', 'immortal'] : ['short-lived', 'long-lived', 'immortal'];
    const got = await inbox.take(expected.length);
    assert.deepEqual(
      got.map((d) => d.body.toString()),
      expected,
    );
    // The expiration travels with the message either way (a worker reads it).
    assert.equal(got.find((d) => d.body.toString() === 'long-lived')?.properties.expiration, '60000');
    for (const d of got) d.ack();
    await inbox.none(200);
  });

  it('priority queue (maxPriority) delivers higher priorities first, FIFO within one', async ({ broker, queue, consume }) => {
    const q = await queue('priority', { maxPriority: 10 });
    const plan: [string, number][] = [
      ['p1', 1],
      ['p0a', 0],
      ['p9', 9],
      ['p5a', 5],
      ['p5b', 5],
      ['p0b', 0],
    ];
    for (const [body, priority] of plan) await broker.publish(textMessage(body, { priority }), { queue: q });
    const { inbox } = await consume([q], 1);
    const order: string[] = [];
    for (let i = 0; i < plan.length; i++) {
      const d = await inbox.next();
      order.push(d.body.toString());
      d.ack();
    }
    // RabbitMQ: highest first, FIFO within one priority. kombu's Redis: one list per step of [0, 3, 6, 9] (the step is
    // the largest ≤ the priority), step 0 first, FIFO within a step.
    const expected = broker.features.priority === 'high-first' ? ['p9', 'p5a', 'p5b', 'p1', 'p0a', 'p0b'] : ['p1', 'p0a', 'p0b', 'p5a', 'p5b', 'p9'];
    assert.deepEqual(order, expected);
  });

  it('stats: ready messages and consumers', async ({ broker, queue, consume }) => {
    const q = await queue('stats');
    // A broker that cannot count consumers says null, never a made-up 0.
    const none = broker.features.consumerCount ? 0 : null;
    const one = broker.features.consumerCount ? 1 : null;
    assert.deepEqual(await broker.stats(q), { name: q, messages: 0, consumers: none });
    await broker.publish(textMessage('a'), { queue: q });
    await broker.publish(textMessage('b'), { queue: q });
    await eventually(() => broker.stats(q), (s) => s.messages === 2 && s.consumers === none);
    const { consumer, inbox } = await consume([q], 1);
    const d = await inbox.next();
    // one delivered (unacked, not "ready"), one ready
    await eventually(() => broker.stats(q), (s) => s.messages === 1 && s.consumers === one);
    await consumer.cancel();
    await eventually(() => broker.stats(q), (s) => s.messages === 2 && s.consumers === none);
    d.ack(); // after cancel: no-op
    assert.equal(await broker.purge(q), 2);
  });

  it('deleteQueue if unused: refused while another consumer consumes it (where consumers are counted), done once it is not', async ({ broker, queue, consume }) => {
    if (!broker.features.consumerCount) return; // kombu's Redis transport cannot tell: its mailbox entries go on stop
    const q = await queue('if-unused');
    const { consumer } = await consume([q], 1);
    await assert.rejects(broker.deleteQueue(q, { ifUnused: true }), (err: unknown) => hasCode(err, 'E_BROKER_PRECONDITION'));
    await broker.publish(textMessage('still here'), { queue: q });
    await eventually(() => broker.stats(q), (s) => s.consumers === 1);
    await consumer.cancel();
    await broker.deleteQueue(q, { ifUnused: true });
  });

  it('declare is idempotent; a conflicting re-declare fails with E_BROKER_PRECONDITION (where declarations are checked) and the broker keeps working', async ({ broker, queue, consume }) => {
    const q = await queue('declare', { maxPriority: 5 });
    await broker.declare({ name: q, maxPriority: 5 });
    if (broker.features.strictDeclare) {
      await assert.rejects(
        () => broker.declare({ name: q }),
        (err: unknown) => err instanceof BrokerError && err.code === 'E_BROKER_PRECONDITION' && !err.message.includes('\n'),
      );
    } else {
      await broker.declare({ name: q }); // nothing to conflict with: Redis keeps no queue arguments
    }
    const { inbox } = await consume([q], 1);
    await broker.publish(textMessage('still fine'), { queue: q });
    const d = await inbox.next();
    assert.equal(d.body.toString(), 'still fine');
    d.ack();
  });

  it('consuming a queue that was never declared fails with E_BROKER_NOT_FOUND (where declarations are checked); the broker keeps working', async ({ broker, queue, consume }) => {
    const missing = uniqueName(prefix, 'missing');
    if (broker.features.strictDeclare) {
      await assert.rejects(
        () => broker.consume([missing], { prefetch: 1 }, () => undefined),
        (err: unknown) => err instanceof BrokerError && err.code === 'E_BROKER_NOT_FOUND',
      );
    } else {
      // Redis: a queue is a list that exists once something is pushed; consuming it first just waits.
      const early = await consume([missing], 1);
      await broker.publish(textMessage('to a list no one declared'), { queue: missing });
      (await early.inbox.next()).ack();
      await early.consumer.cancel();
      await broker.deleteQueue(missing);
    }
    const q = await queue('after-missing');
    const { inbox } = await consume([q], 1);
    await broker.publish(textMessage('fine'), { queue: q });
    (await inbox.next()).ack();
  });

  it('a handler that throws does not stop deliveries', async ({ broker, queue, consume }) => {
    const q = await queue('throws');
    const inbox = new Inbox();
    let calls = 0;
    const consumer = await broker.consume([q], { prefetch: 5 }, (d) => {
      calls++;
      if (calls === 1) {
        d.ack();
        throw new Error('handler bug');
      }
      inbox.handler(d);
    });
    try {
      await broker.publish(textMessage('one'), { queue: q });
      await broker.publish(textMessage('two'), { queue: q });
      const d = await inbox.next();
      assert.equal(d.body.toString(), 'two');
      d.ack();
    } finally {
      await consumer.cancel();
    }
  });
}
