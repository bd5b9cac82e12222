/**
 * Celery's own monitoring tools against lab workers, run once per broker (celery-monitoring-amqp… on RabbitMQ,
 * celery-monitoring-redis… on kombu's Redis transport, whose fanout is PUBLISH/PSUBSCRIBE): `celery status`, `celery inspect`, `celery control`
 * and an event receiver feeding Celery's event state machine (what `celery events` and Flower use), plus a mixed
 * cluster of a lab and a Python worker answering one `inspect ping`. Node names and queues are unique per run;
 * the mailbox and event queues are auto-delete, so nothing stays behind once the workers stop.
 */
import test from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { App, TaskRevokedError } from '../../lab/queue/index.js';
import { createBroker } from '../../lab/queue/index.js';
import { nodeQueue } from '../../lab/queue/control/pidbox.js';
import { REDIS_URL, redis } from '../support/prereq.js';
import { INTEROP_FIXTURES, PYTHON, pythonCelery, startLabWorker, startPeer, startPythonWorker } from '../support/peers.js';
import type { Peer } from '../support/peers.js';

export interface MonitoringTarget {
  label: string;
  brokerUrl: string;
  gate: (t: TestContext) => Promise<boolean>;
}


export function celeryMonitoring({ label, brokerUrl: BROKER, gate }: MonitoringTarget): void {
  const execFileP = promisify(execFile);
  const RUN = randomBytes(4).toString('hex');
  const QUEUE = `lab-monitor-${label.toLowerCase().replace(/\W+/g, '-')}-${RUN}`;
  const LAB_TASKS = fileURLToPath(new URL('../fixtures/interop/tasks.js', import.meta.url));
  const LAB_NODE = `lab-mon-${RUN}@${hostname()}`;
  const QUIET_NODE = `lab-quiet-${RUN}@${hostname()}`;
  const PY_NODE = `py-mon-${RUN}@${hostname()}`;
  const ENV: NodeJS.ProcessEnv = { LAB_INTEROP_BROKER: BROKER, LAB_INTEROP_BACKEND: REDIS_URL, LAB_INTEROP_QUEUE: QUEUE, LAB_INTEROP_RESULT_EXPIRES: '120', PYTHONDONTWRITEBYTECODE: '1' };

  /** `python3 -m celery -A pymonitor <args>`: stdout, stderr and exit code (Celery's CLI exits 69 when no node replies). */
  async function celery(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
    try {
      const { stdout, stderr } = await execFileP(PYTHON, ['-m', 'celery', '-A', 'pymonitor', ...args], { cwd: INTEROP_FIXTURES, env: { ...process.env, ...ENV }, timeout: 60_000 });
      return { stdout, stderr, code: 0 };
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; code?: number };
      return { stdout: e.stdout ?? '', stderr: e.stderr ?? '', code: typeof e.code === 'number' ? e.code : -1 };
    }
  }

  async function celeryJson<T = Record<string, unknown>>(...args: string[]): Promise<T> {
    const r = await celery(...args, '-j');
    assert.equal(r.code, 0, `celery ${args.join(' ')} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
    return JSON.parse(r.stdout.trim().split('\n').pop()!) as T;
  }

  async function pymonitor<T>(...args: string[]): Promise<T> {
    const { stdout } = await execFileP(PYTHON, ['pymonitor.py', ...args], { cwd: INTEROP_FIXTURES, env: { ...process.env, ...ENV }, timeout: 60_000 });
    return JSON.parse(stdout.trim().split('\n').pop()!) as T;
  }

  let labWorker: Peer | null = null;
  let quietWorker: Peer | null = null;
  let pyWorker: Peer | null = null;
  let app: App | null = null;

  async function ready(t: TestContext): Promise<App | null> {
    if (!((await gate(t)) && (await redis(t)) && (await pythonCelery(t)))) return null;
    if (!app) {
      app = new App(`monitor-${RUN}`, { broker: BROKER, backend: REDIS_URL, config: { task_default_queue: QUEUE, result_expires: 120 } });
      await app.ensureQueue(await app.getBroker(), QUEUE);
      [labWorker, quietWorker, pyWorker] = await Promise.all([
        startLabWorker({ module: LAB_TASKS, queue: QUEUE, broker: BROKER, backend: REDIS_URL, env: ENV, extra: ['-n', LAB_NODE, '-E'] }),
        startLabWorker({ module: LAB_TASKS, queue: `${QUEUE}-quiet`, broker: BROKER, backend: REDIS_URL, env: ENV, pool: 'async', extra: ['-n', QUIET_NODE] }),
        startPythonWorker({ queue: `${QUEUE}-py`, module: 'pymonitor', name: PY_NODE, env: ENV }),
      ]);
    }
    return app;
  }

  test.after(async () => {
    await Promise.all([labWorker, quietWorker, pyWorker].map((p) => p?.stop()));
    if (app) {
      const broker = await app.getBroker().catch(() => null);
      // A worker that had to be killed leaves its mailbox binding on Redis (kombu's too): not this run's.
      for (const node of [LAB_NODE, QUIET_NODE, PY_NODE]) {
        await broker?.declare(nodeQueue(node)).catch(() => undefined);
        await broker?.deleteQueue(nodeQueue(node).name).catch(() => undefined);
      }
      for (const q of [QUEUE, `${QUEUE}-quiet`, `${QUEUE}-py`]) {
        // Declared here too, so deleteQueue also removes the exchange the workers declared beside it.
        if (broker) await app.ensureQueue(broker, q).catch(() => undefined);
        await broker?.purge(q).catch(() => undefined);
        await broker?.deleteQueue(q).catch(() => undefined);
      }
      await app.close();
    }
  });

  /** Poll `celery inspect active` on one node until the task shows (the worker takes it within moments). */
  async function activeOn(node: string, id: string): Promise<Record<string, unknown>> {
    for (let i = 0; i < 40; i++) {
      const replies = await celeryJson<Record<string, Record<string, unknown>[]>>('inspect', 'active', '-d', node);
      const found = replies[node]?.find((r) => r.id === id);
      if (found) return found;
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.fail(`task ${id} never showed in inspect active of ${node}`);
  }

  test(`${label}: celery status lists the lab worker; inspect ping reaches a mixed cluster (lab and Python) and every node answers`, async (t) => {
    if (!(await ready(t))) return;
    const status = await celery('status', '-d', `${LAB_NODE},${PY_NODE}`);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, new RegExp(`->\\s+${LAB_NODE.replace(/[.]/g, '\\.')}: OK`));
    const pings = await celeryJson<Record<string, unknown>>('inspect', 'ping', '-d', `${LAB_NODE},${QUIET_NODE},${PY_NODE}`);
    assert.deepEqual(pings, { [LAB_NODE]: { ok: 'pong' }, [QUIET_NODE]: { ok: 'pong' }, [PY_NODE]: { ok: 'pong' } });
  });

  test(`${label}: inspect stats / registered / active_queues answer with Celery’s shapes`, async (t) => {
    if (!(await ready(t))) return;
    const stats = (await celeryJson<Record<string, Record<string, unknown>>>('inspect', 'stats', '-d', LAB_NODE))[LAB_NODE];
    assert.equal(stats.pid, labWorker!.pid);
    assert.equal((stats.pool as Record<string, unknown>)['max-concurrency'], 2);
    assert.equal(((stats.pool as Record<string, unknown>).processes as number[]).length, 2);
    assert.equal(stats.prefetch_count, 8);
    assert.equal((stats.broker as Record<string, unknown>).transport, BROKER.startsWith('redis') ? 'redis' : 'amqp');
    assert.equal(typeof (stats.rusage as Record<string, unknown>).utime, 'number');
    const registered = (await celeryJson<Record<string, string[]>>('inspect', 'registered', '-d', LAB_NODE))[LAB_NODE];
    assert.ok(registered.includes('interop.sleep') && registered.includes('test.echo'), JSON.stringify(registered));
    const queues = (await celeryJson<Record<string, { name: string }[]>>('inspect', 'active_queues', '-d', LAB_NODE))[LAB_NODE];
    assert.deepEqual(queues.map((q) => q.name), [QUEUE]);
  });

  test(`${label}: celery inspect active shows a running lab task; celery control terminate (revoke --terminate) stops it: REVOKED`, async (t) => {
    const a = await ready(t);
    if (!a) return;
    const r = await a.sendTask('interop.sleep', [60_000]);
    const info = await activeOn(LAB_NODE, r.id);
    assert.equal(info.name, 'interop.sleep');
    assert.deepEqual(info.args, [60_000]);
    assert.equal(info.hostname, LAB_NODE);
    assert.equal(typeof info.worker_pid, 'number');
    assert.equal(typeof info.time_start, 'number');
    // `celery control` prints broadcast()'s list of {node: reply}.
    const replies = await celeryJson<Record<string, { ok?: string }>[]>('control', 'terminate', 'SIGTERM', r.id, '-d', LAB_NODE);
    assert.deepEqual(replies, [{ [LAB_NODE]: { ok: `terminate: ${r.id}` } }]);
    await assert.rejects(r.get({ timeout: 15 }), (err: unknown) => err instanceof TaskRevokedError);
    // The worker keeps serving: the pool replaced the child, and the next task runs.
    assert.equal(await (await a.sendTask('test.echo', ['after terminate'])).get({ timeout: 15 }), 'after terminate');
  });

  test(`${label}: celery control rate_limit: a lab worker replies as a Python worker does, registered shows the rate, and the lab worker keeps to it`, async (t) => {
    const a = await ready(t);
    if (!a) return;
    const both = `${LAB_NODE},${PY_NODE}`;
    const replies = async (...args: string[]) => Object.assign({}, ...(await celeryJson<Record<string, unknown>[]>('control', 'rate_limit', ...args, '-d', both))) as Record<string, unknown>;
    const set = await replies('test.echo', '100/m');
    assert.deepEqual(set, { [LAB_NODE]: { ok: 'new rate limit set successfully' }, [PY_NODE]: { ok: 'new rate limit set successfully' } });
    const registered = await celeryJson<Record<string, string[]>>('inspect', 'registered', '-d', both);
    for (const node of [LAB_NODE, PY_NODE]) assert.ok(registered[node]?.includes('test.echo [rate_limit=100/m]'), `${node}: ${JSON.stringify(registered[node])}`);
    // "0" turns the limit off, yet Celery says "set": its reply tests the string's truthiness. lab words it the same.
    assert.deepEqual(await replies('test.echo', '0'), { [LAB_NODE]: { ok: 'new rate limit set successfully' }, [PY_NODE]: { ok: 'new rate limit set successfully' } });
    const disabled = Object.assign({}, ...(await pymonitor<Record<string, unknown>[]>('broadcast', 'rate_limit', JSON.stringify({ task_name: 'test.echo', rate_limit: 0 }), both))) as Record<string, unknown>;
    assert.deepEqual(disabled, { [LAB_NODE]: { ok: 'rate limit disabled successfully' }, [PY_NODE]: { ok: 'rate limit disabled successfully' } });
    assert.deepEqual(await replies('no.such.task', '1/s'), { [LAB_NODE]: { error: 'unknown task' }, [PY_NODE]: { error: 'unknown task' } });
    // The effect, on the lab worker: interop.limited (5/s in its module) at 2/s — three tasks at least a second apart.
    const limited = await celeryJson<Record<string, unknown>[]>('control', 'rate_limit', 'interop.limited', '2/s', '-d', LAB_NODE);
    assert.deepEqual(limited, [{ [LAB_NODE]: { ok: 'new rate limit set successfully' } }]);
    const sent = await Promise.all([0, 1, 2].map(() => a.sendTask<number>('interop.limited', [])));
    const ran = await Promise.all(sent.map((r) => r.get({ timeout: 30 })));
    const spread = Math.max(...ran) - Math.min(...ran);
    assert.ok(spread >= 950, `3 tasks at 2/s ran within ${spread} ms (at 5/s they would take 400)`);
  });

  test(`${label}: an event receiver (Celery’s State) sees the lab worker’s task events in order, with clocks, and its heartbeats`, async (t) => {
    const a = await ready(t);
    if (!a) return;
    const receiver = startPeer('python event receiver', PYTHON, ['pymonitor.py', 'events', '7', LAB_NODE], { cwd: INTEROP_FIXTURES, env: ENV });
    try {
      await receiver.waitFor(/^receiving$/m, 30_000);
      const ok = await a.sendTask('test.echo', ['evented']);
      assert.equal(await ok.get({ timeout: 15 }), 'evented');
      const bad = await a.sendTask('interop.boom', ['ValueError', 'for the events']);
      await assert.rejects(bad.get({ timeout: 15 }));
      const { code } = await receiver.exited;
      assert.equal(code, 0, receiver.output());
      const out = JSON.parse(receiver.output().trim().split('\n').pop()!) as {
        events: { type: string; uuid?: string; clock: number; hostname: string; pid: number; utcoffset: number; timestamp: number; local_received: number }[];
        tasks: Record<string, { state: string; name: string | null; worker: string | null; result: string | null; exception: string | null }>;
        worker: { alive: boolean; heartbeats: number; sw_ident: string; pid: number } | null;
      };
      const of = (id: string) => out.events.filter((e) => e.uuid === id).map((e) => e.type);
      assert.deepEqual(of(ok.id), ['task-received', 'task-started', 'task-succeeded']);
      assert.deepEqual(of(bad.id), ['task-received', 'task-started', 'task-failed']);
      const clocks = out.events.map((e) => e.clock);
      assert.deepEqual(clocks, [...clocks].sort((x, y) => x - y), 'the Lamport clock grows with every event');
      for (const e of out.events) {
        assert.equal(e.pid, labWorker!.pid);
        assert.equal(typeof e.utcoffset, 'number');
        assert.ok(e.local_received >= e.timestamp - 5, 'local_received is set on receipt');
      }
      assert.deepEqual(out.tasks[ok.id], { ...out.tasks[ok.id], state: 'SUCCESS', name: 'test.echo', worker: LAB_NODE, result: "'evented'" });
      assert.equal(out.tasks[bad.id].state, 'FAILURE');
      assert.match(out.tasks[bad.id].exception ?? '', /for the events/);
      assert.ok(out.worker && out.worker.alive && out.worker.heartbeats >= 2 && out.worker.sw_ident === 'lab', JSON.stringify(out.worker));
    } finally {
      await receiver.stop();
    }
  });

  test(`${label}: bad input: malformed pidbox message ignored with a warning; unknown command answered as Python does; revoke of an unknown id remembered; no events without -E`, async (t) => {
    const a = await ready(t);
    if (!a) return;
    // Garbage on the celery.pidbox fanout reaches every worker: each warns and keeps serving.
    const broker = await createBroker(BROKER);
    try {
      await broker.declareExchange!({ name: 'celery.pidbox', type: 'fanout', durable: false });
      const from = labWorker!.output().length;
      await broker.publish({ body: Buffer.from('{not json'), properties: { contentType: 'application/json', contentEncoding: 'utf-8', deliveryMode: 1, headers: {} } }, { queue: '', exchange: 'celery.pidbox', routingKey: '' });
      await labWorker!.waitFor(/WARNING.*ignored a malformed remote-control message/, 10_000, from);
    } finally {
      await broker.close();
    }
    const pings = await celeryJson<Record<string, unknown>>('inspect', 'ping', '-d', LAB_NODE);
    assert.deepEqual(pings, { [LAB_NODE]: { ok: 'pong' } });

    const unknown = await pymonitor<Record<string, unknown>[]>('broadcast', 'no_such_command', '{}', `${LAB_NODE},${PY_NODE}`);
    const byNode = Object.assign({}, ...unknown) as Record<string, unknown>;
    assert.deepEqual(byNode[LAB_NODE], byNode[PY_NODE], 'the same reply as the Python worker');
    assert.deepEqual(byNode[LAB_NODE], { error: "KeyError('no_such_command')" });

    // A revoke for an id no worker has seen: remembered, and the task is discarded when it arrives.
    const id = `revoked-early-${RUN}`;
    const rev = await celeryJson<Record<string, { ok: string }>[]>('control', 'revoke', id, '-d', LAB_NODE);
    assert.deepEqual(rev, [{ [LAB_NODE]: { ok: `tasks ${id} flagged as revoked` } }]);
    const from = labWorker!.output().length;
    const late = await a.sendTask('test.echo', ['never'], {}, { taskId: id });
    await assert.rejects(late.get({ timeout: 15 }), (err: unknown) => err instanceof TaskRevokedError);
    // the worker logs before it stores REVOKED, but its output reaches this process by a pipe, the result by Redis:
    // either may be read first here
    await labWorker!.waitFor(new RegExp(`Discarding revoked task: test\\.echo\\[${id}\\]`), 5_000, from);

    // The worker without -E publishes nothing while it runs a task.
    const receiver = startPeer('python event receiver (quiet)', PYTHON, ['pymonitor.py', 'events', '4', QUIET_NODE], { cwd: INTEROP_FIXTURES, env: ENV });
    try {
      await receiver.waitFor(/^receiving$/m, 30_000);
      const r = await a.sendTask('test.echo', ['quiet'], {}, { queue: `${QUEUE}-quiet` });
      assert.equal(await r.get({ timeout: 15 }), 'quiet');
      await receiver.exited;
      const out = JSON.parse(receiver.output().trim().split('\n').pop()!) as { events: unknown[]; worker: unknown };
      assert.deepEqual(out.events, []);
      assert.equal(out.worker, null);
    } finally {
      await receiver.stop();
    }
  });
}
