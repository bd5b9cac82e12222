import test from 'node:test';
import assert from 'node:assert/strict';
import { COMMANDS, UnknownCommandError, runCommand, signalName } from '../../../lab/queue/control/control-commands.js';
import type { ControlTarget } from '../../../lab/queue/control/control-commands.js';
import { LamportClock } from '../../../lab/queue/control/lamport-clock.js';
import { RevokedSet } from '../../../lab/queue/control/revoked-set.js';
import { WorkerRequests } from '../../../lab/queue/control/worker-requests.js';
import type { Delivery } from '../../../lab/queue/broker.js';
import type { ReceivedHeaders } from '../../../lab/queue/protocol.js';

/** A target that records what the commands asked of it; `terminates` says what the pool could do per id. */
function target(terminates: Record<string, 'terminated' | 'signalled'> = {}) {
  const calls: string[] = [];
  const t: ControlTarget = {
    hostname: 'celery@test',
    clock: new LamportClock(),
    requests: new WorkerRequests('celery@test'),
    revoked: new RevokedSet(),
    startedAt: Date.now() - 5000,
    poolInfo: () => ({ kind: 'prefork', concurrency: 2, processes: [11, 12] }),
    brokerInfo: () => ({ transport: 'amqp' }),
    prefetchCount: () => 8,
    taskNames: () => ['b.task', 'celery.chord_unlock', 'a.task'],
    setTimeLimits: (task, soft, hard) => (calls.push(`time_limit ${task} ${soft} ${hard}`), task === 'a.task'),
    setRateLimit: (task, rate, perSecond) => (calls.push(`rate_limit ${task} ${rate} ${perSecond}`), task === 'a.task'),
    taskAttributes: (task) => (task === 'b.task' ? { rate_limit: '10/m', acks_late: true, queue: null } : {}),
    queues: () => [{ name: 'celery', exchange: 'celery', routingKey: 'celery' }],
    addConsumer: async (q) => void calls.push(`add ${q}`),
    cancelConsumer: async (q) => (calls.push(`cancel ${q}`), q !== 'celery'),
    terminate: (id, sig) => (calls.push(`terminate ${id} ${sig}`), terminates[id] ?? 'unknown'),
    poolGrow: async (n) => void calls.push(`grow ${n}`),
    poolShrink: (n) => (calls.push(`shrink ${n}`), n),
    events: { enableTask: () => true, disableTask: () => false, heartbeat: () => void calls.push('heartbeat') },
    conf: () => ({ task_default_queue: 'celery' }),
    report: () => 'software -> lab',
    shutdown: (why) => void calls.push(`shutdown ${why}`),
  };
  return { t, calls };
}

test('ping, clock, registered (builtins hidden unless asked), an unknown command', async () => {
  const { t } = target();
  assert.deepEqual(await runCommand(t, 'ping', {}), { ok: 'pong' });
  t.clock.adjust(41);
  assert.deepEqual(await runCommand(t, 'clock', {}), { clock: 42 });
  assert.deepEqual(await runCommand(t, 'registered', {}), ['a.task', 'b.task [rate_limit=10/m]']);
  assert.deepEqual(await runCommand(t, 'dump_tasks', { builtins: true }), ['a.task', 'b.task [rate_limit=10/m]', 'celery.chord_unlock']);
  assert.deepEqual(await runCommand(t, 'registered', { taskinfoitems: ['acks_late', 'queue', 'nosuch'] }), ['a.task', 'b.task [acks_late=True]']);
  await assert.rejects(runCommand(t, 'objgraph', {}), (err: unknown) => err instanceof UnknownCommandError && err.method === 'objgraph');
  await assert.rejects(runCommand(t, 'hasOwnProperty', {}), UnknownCommandError, 'no prototype keys');
});

test('revoke remembers ids (one or a list); terminate says what the pool did, as Celery words it', async () => {
  const { t, calls } = target({ run1: 'terminated', run2: 'signalled' });
  assert.deepEqual(await runCommand(t, 'revoke', { task_id: 'x1' }), { ok: 'tasks x1 flagged as revoked' });
  assert.equal(t.revoked.has('x1'), true);
  assert.deepEqual(await runCommand(t, 'revoke', { task_id: ['nope'], terminate: true }), { ok: 'terminate: tasks unknown' });
  assert.equal(t.revoked.has('nope'), true, 'remembered even if unknown');
  assert.deepEqual(await runCommand(t, 'revoke', { task_id: ['run1'], terminate: true, signal: 'KILL' }), { ok: 'terminate: run1' });
  assert.deepEqual(await runCommand(t, 'terminate', { task_id: ['run2'], signal: 'SIGTERM' }), { ok: 'signalled (async pool: a task can only be aborted, not killed): run2' });
  assert.deepEqual(await runCommand(t, 'revoke', { task_id: ['run1'], terminate: true, signal: 'NOSUCH' }), { error: 'unknown signal: NOSUCH' });
  assert.deepEqual(calls, ['terminate nope SIGTERM', 'terminate run1 SIGKILL', 'terminate run2 SIGTERM']);
});

test('signal names as celery.platforms.signals.signum reads them', () => {
  assert.equal(signalName(undefined), 'SIGTERM');
  assert.equal(signalName('term'), 'SIGTERM');
  assert.equal(signalName('SIGKILL'), 'SIGKILL');
  assert.equal(signalName(9), 'SIGKILL');
  assert.equal(signalName('15'), 'SIGTERM');
  assert.equal(signalName('BOGUS'), null);
});

test('control commands reply {ok} / {error} with Celery’s words', async () => {
  const { t, calls } = target();
  assert.deepEqual(await runCommand(t, 'time_limit', { task_name: 'a.task', soft: 1, hard: '2' }), { ok: 'time limits set successfully' });
  assert.deepEqual(await runCommand(t, 'time_limit', { task_name: 'zz' }), { error: 'unknown task' });
  assert.deepEqual(await runCommand(t, 'rate_limit', { task_name: 'a.task', rate_limit: '5/s' }), { ok: 'new rate limit set successfully' });
  assert.deepEqual(await runCommand(t, 'rate_limit', { task_name: 'a.task', rate_limit: 2 }), { ok: 'new rate limit set successfully' });
  // As Celery words it: by Python's truthiness of the value given, so the string "0" (no limit too) is "set".
  assert.deepEqual(await runCommand(t, 'rate_limit', { task_name: 'a.task', rate_limit: '0' }), { ok: 'new rate limit set successfully' });
  assert.deepEqual(await runCommand(t, 'rate_limit', { task_name: 'a.task', rate_limit: 0 }), { ok: 'rate limit disabled successfully' });
  assert.deepEqual(await runCommand(t, 'rate_limit', { task_name: 'zz', rate_limit: '1/m' }), { error: 'unknown task' });
  assert.deepEqual(await runCommand(t, 'rate_limit', { task_name: 'a.task', rate_limit: '5/x' }), { error: 'Invalid rate limit string: expected "N/s", "N/m", "N/h" or a number of tasks per second (0 or empty: no limit), got "5/x"' });
  assert.deepEqual(await runCommand(t, 'pool_grow', { n: 2 }), { ok: 'pool will grow' });
  assert.deepEqual(await runCommand(t, 'pool_shrink', {}), { ok: 'pool will shrink' });
  assert.deepEqual(await runCommand(t, 'add_consumer', { queue: 'q2' }), { ok: 'add consumer q2' });
  assert.deepEqual(await runCommand(t, 'add_consumer', {}), { error: 'add_consumer needs a queue name' });
  assert.deepEqual(await runCommand(t, 'cancel_consumer', { queue: 'q2' }), { ok: 'no longer consuming from q2' });
  assert.deepEqual(await runCommand(t, 'cancel_consumer', { queue: 'celery' }), { error: 'not consuming from celery by add_consumer (lab cannot stop one of the queues a worker was started with)' });
  assert.deepEqual(await runCommand(t, 'enable_events', {}), { ok: 'task events enabled' });
  assert.deepEqual(await runCommand(t, 'disable_events', {}), { ok: 'task events already disabled' });
  assert.equal(await runCommand(t, 'heartbeat', {}), null);
  assert.equal(await runCommand(t, 'shutdown', {}), null);
  assert.deepEqual(calls, ['time_limit a.task 1 2', 'time_limit zz null null', 'rate_limit a.task 5/s 5', 'rate_limit a.task 2 2', 'rate_limit a.task 0 0', 'rate_limit a.task 0 0', `rate_limit zz 1/m ${1 / 60}`, 'grow 2', 'shrink 1', 'add q2', 'cancel q2', 'cancel celery', 'heartbeat', 'shutdown Got shutdown from remote']);
});

test('stats: the fields that mean something for a Node worker, and no others', async () => {
  const { t } = target();
  const s = (await runCommand(t, 'stats', {})) as Record<string, unknown>;
  assert.deepEqual(Object.keys(s).sort(), ['broker', 'clock', 'pid', 'pool', 'prefetch_count', 'rusage', 'total', 'uptime']);
  assert.equal(s.pid, process.pid);
  assert.deepEqual(s.pool, { 'max-concurrency': 2, processes: [11, 12], implementation: 'lab:prefork' });
  assert.equal(s.uptime, 5);
  assert.ok((s.rusage as { maxrss: number }).maxrss > 0);
});

test('active / reserved / scheduled / query_task show requests as Request.info(); arguments decoded on demand', async () => {
  const { t } = target();
  const delivery = (body: unknown) => ({ body: Buffer.from(JSON.stringify(body)), properties: { contentType: 'application/json', contentEncoding: 'utf-8', deliveryMode: 2, headers: {}, priority: 3 }, queue: 'celery', redelivered: false, ack() {}, reject() {} }) as Delivery;
  const headers = (id: string, eta: Date | null = null) => ({ id, task: 'a.task', eta, expires: null, retries: 0, timeLimit: [null, null], group: null, groupIndex: null, rootId: id, parentId: null, ignoreResult: false, raw: { argsrepr: '(1,)', kwargsrepr: '{}' } }) as ReceivedHeaders;
  t.requests.received(headers('r1'), delivery([[1], { k: 2 }, {}]), false);
  t.requests.received(headers('r2'), delivery([[2], {}, {}]), false);
  t.requests.received(headers('s1', new Date('2030-01-01T00:00:00Z')), delivery([[3], {}, {}]), true);
  t.requests.started('r1', 7, 4242, true);
  const active = (await runCommand(t, 'active', {})) as Record<string, unknown>[];
  assert.equal(active.length, 1);
  assert.deepEqual({ ...active[0], time_start: 0 }, { id: 'r1', name: 'a.task', args: [1], kwargs: { k: 2 }, type: 'a.task', hostname: 'celery@test', time_start: 0, acknowledged: true, delivery_info: { exchange: '', routing_key: 'celery', priority: 3, redelivered: false }, worker_pid: 4242 });
  assert.deepEqual(((await runCommand(t, 'active', { safe: true })) as { args: unknown }[])[0].args, '(1,)');
  assert.deepEqual(((await runCommand(t, 'reserved', {})) as { id: string }[]).map((r) => r.id), ['r2']);
  const scheduled = (await runCommand(t, 'scheduled', {})) as { eta: string; request: { id: string } }[];
  assert.deepEqual([scheduled[0].eta, scheduled[0].request.id], ['2030-01-01T00:00:00.000Z', 's1']);
  const q = (await runCommand(t, 'query_task', { ids: ['r1', 'r2', 'gone'] })) as Record<string, [string, unknown]>;
  assert.deepEqual(Object.fromEntries(Object.entries(q).map(([k, v]) => [k, v[0]])), { r1: 'active', r2: 'reserved' });
  t.requests.done('r1', true);
  assert.deepEqual(((await runCommand(t, 'stats', {})) as { total: unknown }).total, { 'a.task': 1 });
});

test("hello (mingle) shares revoked ids and the clock, and ignores the worker's own", async () => {
  const { t } = target();
  t.revoked.add('old');
  assert.equal(await runCommand(t, 'hello', { from_node: 'celery@test' }), null);
  const r = (await runCommand(t, 'hello', { from_node: 'py@x', revoked: { theirs: 1 } })) as { revoked: Record<string, number>; clock: number };
  assert.deepEqual(Object.keys(r.revoked).sort(), ['old', 'theirs']);
  assert.equal(typeof r.clock, 'number');
  assert.ok(Object.hasOwn(COMMANDS, 'dump_active'));
});
