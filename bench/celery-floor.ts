/**
 * The Celery-peer floor (issue 13): the least a program must do to be a Celery peer on RabbitMQ + Redis, written
 * straight on amqplib + ioredis, with nothing of lab's runtime — protocol v2 headers and a JSON body, persistent
 * messages on a durable queue with publisher confirms; a consumer with prefetch 8 that parses, runs echo and stores
 * the result with SETEX + PUBLISH (one MULTI, as Celery's redis-py pipeline) in Celery's key layout; a client that
 * subscribes to celery-task-meta-<id> so no result is missed. No pools, no retries, no bookkeeping.
 *
 * Client variants measured: SUBSCRIBE, confirmed publish and wait in sequence; SUBSCRIBE overlapping the publish and
 * its confirm (a GET after the SUBSCRIBE reply catches a result that landed first) — the reference; and the
 * overlapped one without confirms.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { connect } from 'amqplib';
import type { Channel, ConfirmChannel, Options } from 'amqplib';
import { Redis } from 'ioredis';

const META = 'celery-task-meta-';
const ORIGIN = `gen${process.pid}@${hostname()}`;

/** Protocol v2 properties and headers as Celery 5.2 writes them for test.echo(arg). */
export function celeryMessage(id: string, arg: unknown): { body: Buffer; options: Options.Publish } {
  const body = Buffer.from(JSON.stringify([[arg], {}, { callbacks: null, errbacks: null, chain: null, chord: null }]));
  const headers = {
    lang: 'py',
    task: 'test.echo',
    id,
    shadow: null,
    eta: null,
    expires: null,
    group: null,
    group_index: null,
    retries: 0,
    timelimit: [null, null],
    root_id: id,
    parent_id: null,
    argsrepr: JSON.stringify([arg]),
    kwargsrepr: '{}',
    origin: ORIGIN,
    ignore_result: false,
  };
  return { body, options: { persistent: true, contentType: 'application/json', contentEncoding: 'utf-8', correlationId: id, replyTo: ORIGIN, priority: 0, headers } };
}

/** The floor's worker: consume (prefetch 8), ack on receipt (Celery's default), parse, echo, SETEX + PUBLISH. */
export async function celeryFloorConsumer(amqpUrl: string, redisUrl: string, queue: string, prefetch: number, expires: number): Promise<() => Promise<void>> {
  const conn = await connect(amqpUrl);
  const ch = await conn.createChannel();
  await ch.prefetch(prefetch, true);
  const redis = new Redis(redisUrl);
  await ch.consume(
    queue,
    (m) => {
      if (!m) return;
      ch.ack(m);
      const h = m.properties.headers as { id?: string; task?: string };
      const id = h.id!;
      const [args] = JSON.parse(m.content.toString('utf8')) as [unknown[], unknown, unknown];
      const meta = JSON.stringify({ status: 'SUCCESS', result: args[0], traceback: null, children: [], date_done: new Date().toISOString().slice(0, 23) + '000', task_id: id });
      void redis.multi().setex(META + id, expires, meta).publish(META + id, meta).exec();
    },
    { noAck: false },
  );
  return async () => {
    await conn.close().catch(() => undefined);
    redis.disconnect();
  };
}

export type FloorClientMode = 'sequential' | 'overlapped' | 'no-confirm';

/** The floor's client: one subscriber connection, one command connection, one (confirm) channel. */
export class CeleryFloorClient {
  private readonly waiters = new Map<string, (meta: string) => void>();
  private constructor(
    private readonly conn: Awaited<ReturnType<typeof connect>>,
    private readonly ch: ConfirmChannel | Channel,
    private readonly sub: Redis,
    private readonly cmd: Redis,
    private readonly queue: string,
    private readonly confirm: boolean,
  ) {
    sub.on('message', (channel: string, message: string) => this.deliver(channel.slice(META.length), message));
  }

  static async open(amqpUrl: string, redisUrl: string, queue: string, confirm: boolean): Promise<CeleryFloorClient> {
    const conn = await connect(amqpUrl);
    const ch = confirm ? await conn.createConfirmChannel() : await conn.createChannel();
    await ch.assertQueue(queue, { durable: true, exclusive: false, autoDelete: false });
    const sub = new Redis(redisUrl);
    const cmd = new Redis(redisUrl);
    return new CeleryFloorClient(conn, ch, sub, cmd, queue, confirm);
  }

  private deliver(id: string, meta: string): void {
    const w = this.waiters.get(id);
    if (!w) return;
    const status = (JSON.parse(meta) as { status?: string }).status;
    if (status !== 'SUCCESS' && status !== 'FAILURE' && status !== 'REVOKED') return;
    this.waiters.delete(id);
    w(meta);
  }

  private publish(id: string, arg: unknown): Promise<void> {
    const { body, options } = celeryMessage(id, arg);
    if (!this.confirm) {
      this.ch.publish('', this.queue, body, options);
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      (this.ch as ConfirmChannel).publish('', this.queue, body, options, (err: unknown) => (err ? reject(err as Error) : resolve()));
    });
  }

  /** One round trip: echo(arg), its result read back. */
  async call(arg: unknown, mode: FloorClientMode): Promise<unknown> {
    const id = randomUUID();
    const channel = META + id;
    const got = new Promise<string>((r) => this.waiters.set(id, r));
    if (mode === 'sequential') {
      await this.sub.subscribe(channel);
      await this.publish(id, arg);
    } else {
      const subscribed = this.sub.subscribe(channel).then(async () => {
        const text = await this.cmd.get(channel);
        if (text !== null) this.deliver(id, text);
      });
      await Promise.all([subscribed, this.publish(id, arg)]);
    }
    const meta = await got;
    void this.sub.unsubscribe(channel);
    return (JSON.parse(meta) as { result: unknown }).result;
  }

  /** n tasks at once: subscribe to all, publish all (a window of confirms), wait for all; results in order. */
  async fanout(n: number): Promise<unknown[]> {
    const ids = Array.from({ length: n }, () => randomUUID());
    const results: unknown[] = new Array(n);
    const got = ids.map((id, i) => new Promise<void>((r) => this.waiters.set(id, (meta) => ((results[i] = (JSON.parse(meta) as { result: unknown }).result), r()))));
    // Subscribed before publishing (in slices: one command of 100,000 channels is a large reply).
    for (let i = 0; i < n; i += 5000) await this.sub.subscribe(...ids.slice(i, i + 5000).map((id) => META + id));
    const confirms: Promise<void>[] = [];
    for (let i = 0; i < n; i++) {
      confirms.push(this.publish(ids[i], i));
      if (i % 1000 === 999) await new Promise<void>((r) => setImmediate(r)); // let the socket drain
    }
    await Promise.all(confirms);
    await Promise.all(got);
    for (let i = 0; i < n; i += 5000) await this.sub.unsubscribe(...ids.slice(i, i + 5000).map((id) => META + id));
    await this.cmd.del(...ids.map((id) => META + id));
    return results;
  }

  async close(deleteQueue = false): Promise<void> {
    if (deleteQueue) await this.ch.deleteQueue(this.queue).catch(() => undefined);
    await this.conn.close().catch(() => undefined);
    this.sub.disconnect();
    this.cmd.disconnect();
  }
}
