import test from 'node:test';
import assert from 'node:assert/strict';
import { DashboardState } from '../../lab/dashboard/dashboard-state.js';
import type { CeleryEvent } from '../../lab/queue/index.js';

function ev(type: string, fields: Partial<CeleryEvent> & { timestamp: number }): CeleryEvent {
  return { type, hostname: 'w1@h', utcoffset: 0, pid: 1, clock: 1, local_received: fields.timestamp, ...fields } as CeleryEvent;
}

test('tasks per second and latency from sent (or received) to done; failures newest first with tracebacks', () => {
  let now = 1000.5;
  const s = new DashboardState(() => now);
  s.event(ev('task-sent', { uuid: 'a', name: 't.a', queue: 'q1', timestamp: 998.0, hostname: 'gen1@h' }));
  s.event(ev('task-received', { uuid: 'a', name: 't.a', timestamp: 998.2 }));
  s.event(ev('task-succeeded', { uuid: 'a', timestamp: 999.0 }));
  s.event(ev('task-received', { uuid: 'b', name: 't.b', timestamp: 999.1 }));
  s.event(ev('task-failed', { uuid: 'b', exception: "ValueError('x')", traceback: 'Traceback…', timestamp: 999.6 }));
  s.event(ev('task-succeeded', { uuid: 'unseen', timestamp: 999.7 }));
  const snap = s.snapshot();
  const sec = snap.seconds.find((b) => b.t === 999)!;
  assert.deepEqual([sec.succeeded, sec.failed], [2, 1]);
  assert.equal(sec.maxMs, 1000, 'a: from task-sent at 998.0 to 999.0');
  assert.equal(Math.round(sec.p50Ms!), 1000);
  assert.deepEqual(snap.totals, { received: 2, succeeded: 2, failed: 1, events: 6 });
  assert.deepEqual(snap.failures.map((f) => [f.uuid, f.name, f.exception, f.traceback]), [['b', 't.b', "ValueError('x')", 'Traceback…']]);
  assert.deepEqual(s.queuesSeen(), ['q1']);
  assert.equal(snap.workers.length, 1, 'a client (gen…) is not a worker');
});

test('workers: online while heartbeats are fresh (2 × freq), offline on worker-offline; pool from remote control', () => {
  let now = 100;
  const s = new DashboardState(() => now);
  s.event(ev('worker-online', { freq: 2, sw_ident: 'lab', timestamp: 100 }));
  s.event(ev('worker-heartbeat', { freq: 2, active: 1, processed: 7, timestamp: 100 }));
  s.survey([{ hostname: 'w1@h', pool: 'prefork', concurrency: 2, pid: 5, processed: 7, active: [] }]);
  s.survey([{ hostname: 'w1@h', pool: null, concurrency: null, pid: null, processed: null, active: [] }]);
  let w = s.snapshot().workers[0];
  assert.deepEqual([w.online, w.swIdent, w.pool, w.concurrency, w.heartbeats, w.processed, w.active], [true, 'lab', 'prefork', 2, 1, 7, 1]);
  now = 106;
  assert.equal(s.snapshot().workers[0].online, false, 'no heartbeat for 6 s with freq 2');
  s.event(ev('worker-heartbeat', { freq: 2, timestamp: 106, local_received: 106 }));
  assert.equal(s.snapshot().workers[0].online, true);
  s.event(ev('worker-offline', { timestamp: 106.5, local_received: 106.5 }));
  w = s.snapshot().workers[0];
  assert.equal(w.online, false);
});

test('queues: depth and its change per second between polls', () => {
  let now = 10;
  const s = new DashboardState(() => now);
  s.queueStats([{ name: 'q', messages: 100, consumers: 1 }]);
  assert.equal(s.snapshot().queues[0].deltaPerS, null);
  now = 12;
  s.queueStats([{ name: 'q', messages: 60, consumers: 1 }]);
  assert.deepEqual(s.snapshot().queues, [{ name: 'q', messages: 60, consumers: 1, deltaPerS: -20 }]);
});

test('faults: a band from when a fault was applied to the poll that no longer finds it; newest first; bounded', () => {
  let now = 1000;
  const s = new DashboardState(() => now);
  assert.deepEqual(s.snapshot().faults, []);
  const partition = { id: 'f1', kind: 'partition', text: 'partition HOST3 from HOST1', startedAt: new Date(998_500).toISOString() };
  s.faultsRecorded([partition]);
  assert.deepEqual(s.snapshot().faults, [{ id: 'f1', kind: 'partition', text: 'partition HOST3 from HOST1', from: 998.5, to: null }]);
  now = 1003;
  const pause = { id: 'f2', kind: 'pause', text: 'pause workers@HOST3', startedAt: 'not a date' };
  s.faultsRecorded([partition, pause]);
  now = 1010;
  s.faultsRecorded([pause]);
  const shown = s.snapshot().faults;
  assert.deepEqual(shown.map((f) => [f.id, f.from, f.to]), [['f2', 1003, null], ['f1', 998.5, 1010]], 'an unreadable start is the poll that saw it');
  // A healed fault stays healed even if an id comes back; the list keeps the latest 50.
  for (let i = 0; i < 60; i++) s.faultsRecorded([{ id: `g${i}`, kind: 'kill', text: `kill ${i}`, startedAt: new Date(now * 1000).toISOString() }]);
  const many = s.snapshot().faults;
  assert.equal(many.length, 50);
  assert.equal(many[0].id, 'g59');
  assert.ok(many.every((f) => f.id === 'g59' || f.to !== null), 'only the one still recorded is in effect');
});
