/**
 * `lab inspect` / `lab control` against lab workers on the real RabbitMQ (the Python side of the protocol is in
 * test/interop/celery-monitoring…), and the events a lab client sends (task-sent) as lab's EventReceiver sees them.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { App, EventReceiver, TaskFailedError } from '../../lab/queue/index.js';
import type { CeleryEvent } from '../../lab/queue/index.js';
import { RABBITMQ_URL, REDIS_URL, rabbitmq, redis } from '../support/prereq.js';
import { startLabWorker } from '../support/peers.js';
import type { Peer } from '../support/peers.js';
import { lab } from '../support/cli.js';

const RUN = randomBytes(4).toString('hex');
const QUEUE = `lab-inspect-${RUN}`;
const NODE = `lab-inspect-${RUN}@test`;
const TASKS = fileURLToPath(new URL('../fixtures/interop/tasks.js', import.meta.url));
let worker: Peer | null = null;
let app: App | null = null;

async function ready(t: test.TestContext): Promise<App | null> {
  if (!((await rabbitmq(t)) && (await redis(t)))) return null;
  if (!app) {
    app = new App(`inspect-${RUN}`, { broker: RABBITMQ_URL, backend: REDIS_URL, config: { task_default_queue: QUEUE, result_expires: 120, task_send_sent_event: true } });
    await app.ensureQueue(await app.getBroker(), QUEUE);
    // The async pool: revoke --terminate can only signal there, and the reply says so.
    worker = await startLabWorker({ module: TASKS, queue: QUEUE, broker: RABBITMQ_URL, backend: REDIS_URL, pool: 'async', extra: ['-n', NODE] });
  }
  return app;
}

test.after(async () => {
  await worker?.stop();
  if (app) {
    const b = await app.getBroker().catch(() => null);
    await b?.purge(QUEUE).catch(() => undefined);
    await b?.deleteQueue(QUEUE).catch(() => undefined);
    await app.close();
  }
});

const cli = (...args: string[]) => lab([...args, '--broker', RABBITMQ_URL, '-d', NODE], { timeoutMs: 30_000 });

test('lab inspect ping / stats / active; lab control revoke --terminate on the async pool signals and says so', async (t) => {
  const a = await ready(t);
  if (!a) return;
  const ping = await cli('inspect', 'ping', '--json');
  assert.equal(ping.code, 0, ping.stderr);
  assert.deepEqual(JSON.parse(ping.stdout), { [NODE]: { ok: 'pong' } });
  const text = await cli('inspect', 'ping');
  assert.match(text.stdout, new RegExp(`->  ${NODE}: OK\\n    pong\\n\\n1 node online\\.`));
  const stats = JSON.parse((await cli('inspect', 'stats', '--json')).stdout) as Record<string, { pool: Record<string, unknown> }>;
  assert.equal(stats[NODE].pool.implementation, 'lab:async');

  // A task that honours its signal: on the async pool, revoke --terminate aborts it (and can do no more).
  const r = await a.sendTask('interop.wait', [120_000]);
  let active: { id: string }[] = [];
  const deadline = Date.now() + 60_000;
  while (!active.some((x) => x.id === r.id) && Date.now() < deadline) {
    active = (JSON.parse((await cli('inspect', 'active', '--json')).stdout) as Record<string, { id: string }[]>)[NODE];
    if (!active.some((x) => x.id === r.id)) await new Promise((res) => setTimeout(res, 250));
  }
  assert.ok(active.some((x) => x.id === r.id), 'the running task shows in lab inspect active');
  const rev = await cli('control', 'revoke', r.id, '--terminate', '--json');
  assert.equal(rev.code, 0, rev.stderr);
  assert.deepEqual(JSON.parse(rev.stdout), [{ [NODE]: { ok: `signalled (async pool: a task can only be aborted, not killed): ${r.id}` } }]);
  // The signal reached the task, which gave up with the reason it was given.
  await assert.rejects(r.get({ timeout: 30 }), (e: unknown) => e instanceof TaskFailedError && e.excType === 'Terminated' && /SIGTERM/.test(e.excMessage));
});

test('usage mistakes exit 2; no reply exits 1', async (t) => {
  if (!(await ready(t))) return;
  const unknown = await cli('inspect', 'objgraph');
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command "objgraph"/);
  const bad = await cli('control', 'pool_grow', 'two');
  assert.equal(bad.code, 2);
  const nobody = await lab(['inspect', 'ping', '--broker', RABBITMQ_URL, '-d', `nobody-${RUN}@x`, '-t', '0.5']);
  assert.equal(nobody.code, 1);
  assert.match(nobody.stderr, /No nodes replied within time constraint/);
});

/** Send n interop.limited tasks at once; how far apart the first and last ran (ms, by the worker's clock). */
async function spread(a: App, n: number): Promise<number> {
  const sent = await Promise.all(Array.from({ length: n }, () => a.sendTask<number>('interop.limited', [])));
  const ran = await Promise.all(sent.map((r) => r.get({ timeout: 30 })));
  return Math.max(...ran) - Math.min(...ran);
}

test('a task type’s rateLimit spreads its tasks on the worker; lab control rate_limit changes it while the worker runs', async (t) => {
  const a = await ready(t);
  if (!a) return;
  // 5/s: the first at once, then one every 200 ms — nine gaps. (A lower bound only: how fast is not asserted.)
  const atFive = await spread(a, 10);
  assert.ok(atFive >= 1700, `10 tasks at 5/s ran within ${atFive} ms`);
  const set = await cli('control', 'rate_limit', 'interop.limited', '2/s', '--json');
  assert.equal(set.code, 0, set.stderr);
  assert.deepEqual(JSON.parse(set.stdout), [{ [NODE]: { ok: 'new rate limit set successfully' } }]);
  const atTwo = await spread(a, 5);
  assert.ok(atTwo >= 1900, `5 tasks at 2/s ran within ${atTwo} ms (at 5/s they would take 800)`);
  const registered = JSON.parse((await cli('inspect', 'registered', '--json')).stdout) as Record<string, string[]>;
  assert.ok(registered[NODE].includes('interop.limited [rate_limit=2/s]'), JSON.stringify(registered));
  const off = await cli('control', 'rate_limit', 'interop.limited', '0', '--json');
  // Celery's words for the string "0": "set" (it is: to no limit).
  assert.deepEqual(JSON.parse(off.stdout), [{ [NODE]: { ok: 'new rate limit set successfully' } }]);
  await worker!.waitFor(/Rate limits disabled for tasks of type interop\.limited/, 10_000);
  const unknown = await cli('control', 'rate_limit', 'no.such.task', '5/s', '--json');
  assert.deepEqual(JSON.parse(unknown.stdout), [{ [NODE]: { error: 'unknown task' } }]);
  const bad = await cli('control', 'rate_limit', 'interop.limited', '5/x');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /rate_limit: expected "N\/s", "N\/m", "N\/h" .*got "5\/x"/);
  assert.match(worker!.output(), /New rate limit for tasks of type interop\.limited: 2\/s\./);
});

test('a lab client with task_send_sent_event sends task-sent; the worker without -E sends nothing; lab control shutdown stops it', async (t) => {
  const a = await ready(t);
  if (!a) return;
  const receiver = new EventReceiver(await a.getBroker());
  const events: CeleryEvent[] = [];
  receiver.on('event', (e) => events.push(e));
  await receiver.start();
  try {
    const r = await a.sendTask('test.echo', ['sent'], {}, {});
    assert.equal(await r.get({ timeout: 15 }), 'sent');
    await new Promise((res) => setTimeout(res, 500));
    const mine = events.filter((e) => e.uuid === r.id);
    assert.deepEqual(mine.map((e) => e.type), ['task-sent'], 'task-sent from the client; nothing from a worker without -E');
    assert.equal(mine[0].name, 'test.echo');
    assert.equal(mine[0].queue, QUEUE);
    assert.equal(mine[0].args, "('sent',)");
    assert.match(mine[0].hostname, /^gen\d+@/);
    assert.equal(events.filter((e) => e.hostname === NODE).length, 0);
  } finally {
    await receiver.stop();
  }
  const down = await cli('control', 'shutdown');
  assert.equal(down.code, 0, down.stderr);
  const exit = await worker!.exited;
  assert.equal(exit.code, 0);
  assert.match(worker!.output(), /Got shutdown from remote/);
});
